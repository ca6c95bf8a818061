//! Splitting an event's personal values from its clear body as it serialises: one
//! pass of serde writes the event's JSON, following only the paths the classification
//! table names for the event's kind and noting where each personal value went. The
//! writer seals every event it decides, and building a `serde_json::Value` of each,
//! walking it for the table's paths and serialising it again cost more than the
//! encryption.
//!
//! The event's JSON is what clients get; the clear body is the same with each personal
//! value cut out (an object's member left out; an array item left `null`, so the
//! others keep their positions) or, for a `Coarse` row, rounded. The sealed values are
//! their JSON as written. Where a path meets the record id a row names, the id is
//! noted. What comes out is what [`classify::personal_leaves`] finds in the same event
//! (a test holds the two to it).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::ops::Range;
use std::rc::Rc;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::ser::{self, Error as _, Serializer};
use serde_json::Value;

use super::HashMap;
use muster_core::engine::EventKind;
use muster_core::privacy::classify::{self, Class, ClassifyError, Keep, Personal};

/// A personal value taken from an event: its row, its exact pointer and where its
/// JSON is in the event's ([`Split::value`]).
pub struct Leaf {
    pub personal: Personal,
    pub pointer: Cow<'static, str>,
    value: Range<usize>,
}

/// An event split: the event's JSON as serde writes it (what clients get), its clear
/// body (the same less the personal values), the personal values in the order they
/// were met, and the record ids.
pub struct Split {
    pub full: Vec<u8>,
    pub body: Vec<u8>,
    pub leaves: Vec<Leaf>,
    ids: Vec<(Cow<'static, str>, Value)>,
}

/// One scope of an event: its name, whether its record is new with the event (so it
/// has no key yet), and its leaves.
pub struct Scope<'s> {
    pub name: String,
    pub new: bool,
    pub leaves: Vec<&'s Leaf>,
}

impl Split {
    /// The JSON of `leaf`'s value.
    pub fn value(&self, leaf: &Leaf) -> &[u8] {
        &self.full[leaf.value.clone()]
    }

    /// The leaves grouped by scope, in the order the scopes are first met; `created`
    /// is the id of the record the event creates, if any (its scopes are new).
    pub fn scopes(
        &self,
        kind: EventKind,
        at: DateTime<Utc>,
        created: Option<&str>,
    ) -> Result<Vec<Scope<'_>>, ClassifyError> {
        // Within one event a scope is its record and category (the day is the
        // event's): compared as such, each scope's name is written once.
        let mut scopes: Vec<Scope<'_>> = Vec::with_capacity(2);
        let mut named = Vec::with_capacity(2);
        for leaf in &self.leaves {
            let p = &leaf.personal;
            let id = self.id_of(kind, leaf)?;
            match named.iter().position(|n| *n == (p.record, p.category, id)) {
                Some(i) => scopes[i].leaves.push(leaf),
                None => {
                    named.push((p.record, p.category, id));
                    scopes.push(Scope {
                        name: muster_core::privacy::scope(p.record, id, p.category, at),
                        new: created == Some(id),
                        leaves: vec![leaf],
                    });
                }
            }
        }
        Ok(scopes)
    }

    /// The record id of `leaf` (noted as the event was split), or the error that
    /// names what is missing.
    fn id_of(&self, kind: EventKind, leaf: &Leaf) -> Result<&str, ClassifyError> {
        let id = self.ids.iter().find(|(p, _)| p == leaf.personal.id);
        id.and_then(|(_, v)| v.as_str())
            .ok_or_else(|| ClassifyError::NoRecordId {
                kind: kind.as_str(),
                pointer: leaf.pointer.to_string(),
                id: leaf.personal.id,
            })
    }
}

/// Serialises `event` (of `kind`), splitting out its personal values; coordinates
/// kept `Coarse` stay in the body rounded to `decimals` places.
///
/// The event is written once, whole, noting where each personal value went; the
/// body is then that JSON with each cut out: an object's member left out, an array
/// item (or a variant's value) left `null` so the others keep their positions, a
/// coarse coordinate rounded.
pub fn split<T: Serialize>(event: &T, kind: EventKind, decimals: u32) -> Result<Split, String> {
    let written = Rc::new(Cell::new(0));
    // Sized for the events that carry personal data, so that none grows while written.
    let ctx = RefCell::new(Ctx {
        plan: plan(kind),
        path: Vec::with_capacity(6),
        live: Vec::with_capacity(6),
        marks: Vec::with_capacity(8),
        ids: Vec::with_capacity(2),
        written: written.clone(),
    });
    let mut ser = serde_json::Serializer::new(Tally {
        out: Vec::with_capacity(1024),
        written,
    });
    event
        .serialize(Splitter {
            inner: &mut ser,
            ctx: &ctx,
        })
        .map_err(|e| e.to_string())?;
    let full = ser.into_inner().out;
    let ctx = ctx.into_inner();
    let (body, leaves) = cut(&full, ctx.marks, decimals);
    Ok(Split {
        full,
        body,
        leaves,
        ids: ctx.ids,
    })
}

/// The writer of the event's JSON, keeping count of what it has written so far.
struct Tally {
    out: Vec<u8>,
    written: Rc<Cell<usize>>,
}

impl std::io::Write for Tally {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.out.extend_from_slice(bytes);
        self.written.set(self.out.len());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where a personal value was written: its slot and the bytes from its start (a
/// member's or an item's leading comma included) to its end.
struct Mark {
    personal: Personal,
    pointer: Cow<'static, str>,
    slot: Slot,
    start: usize,
    end: usize,
}

/// What a value was written as, which says where in its bytes the value starts.
#[derive(Clone, Copy)]
enum Slot {
    /// An array's or a tuple's item: `,value`.
    Item,
    /// An object's member, with its key's JSON length: `,"key":value`.
    Member(usize),
    /// A newtype variant's value, with its name's JSON length: `{"name":value}`.
    Variant(usize),
}

/// The body (`full` with the personal values cut out as `marks` say) and the leaves.
fn cut(full: &[u8], marks: Vec<Mark>, decimals: u32) -> (Vec<u8>, Vec<Leaf>) {
    // Room for the sealed entries the vault appends, so the body is allocated once.
    let mut body = Vec::with_capacity(2 * full.len() + 128);
    let mut leaves = Vec::with_capacity(marks.len());
    let mut at = 0;
    for m in marks {
        let comma = usize::from(full[m.start] == b',');
        let value = match m.slot {
            Slot::Item => m.start + comma..m.end,
            Slot::Member(key) => m.start + comma + key + 1..m.end,
            Slot::Variant(name) => m.start + name + 2..m.end - 1,
        };
        if &full[value.clone()] == b"null" {
            continue;
        }
        let number = || {
            let text = std::str::from_utf8(&full[value.clone()]).ok()?;
            text.parse::<f64>().ok()
        };
        let put = match (m.personal.keep, m.slot) {
            (Keep::Sealed, Slot::Member(_)) => Put::Out,
            (Keep::Sealed, _) => Put::Null,
            (Keep::Coarse, _) => match number() {
                Some(x) => serde_json::Number::from_f64(classify::round(x, decimals))
                    .map_or(Put::Null, Put::Number),
                None => Put::Same,
            },
        };
        match put {
            Put::Same => {}
            Put::Null | Put::Number(_) => {
                body.extend_from_slice(&full[at..value.start]);
                match put {
                    Put::Number(n) => {
                        serde_json::to_writer(&mut body, &n).expect("a number serialises")
                    }
                    _ => body.extend_from_slice(b"null"),
                }
                at = value.end;
            }
            Put::Out => {
                // A member left out. The first of its object (no comma of its own)
                // takes the next member's comma with it; that member, if cut too,
                // then starts after it.
                let start = m.start.max(at);
                body.extend_from_slice(&full[at..start]);
                let first = full[start] != b',';
                at = if first && full.get(m.end) == Some(&b',') {
                    m.end + 1
                } else {
                    m.end
                };
            }
        }
        leaves.push(Leaf {
            personal: m.personal,
            pointer: m.pointer,
            value,
        });
    }
    body.extend_from_slice(&full[at..]);
    (body, leaves)
}

/// What the body has where a personal value was.
enum Put {
    /// The value as it is (a coarse value that is not a number).
    Same,
    /// `null` in its place.
    Null,
    /// A number in its place (a coarse one, rounded).
    Number(serde_json::Number),
    /// Nothing: an object's member left out.
    Out,
}

/// True when `s` is written as a JSON string as it is, between quotes.
fn unescaped(s: &str) -> bool {
    s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// The length of `s` written as a JSON string.
fn json_len(s: &str) -> usize {
    if unescaped(s) {
        s.len() + 2
    } else {
        serde_json::to_string(s).map_or(0, |j| j.len())
    }
}

/// Writes `s` as a JSON string (scopes and pointers, which seldom need escaping).
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    if unescaped(s) {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(out, s).expect("a string serialises");
    }
}

/// What a path of the plan leads to.
#[derive(Clone, Copy)]
enum Target {
    Personal(Personal),
    /// The record id personal rows of the kind name.
    Id,
}

/// One path of a kind's plan, as segments (`*` for any one).
struct Pattern {
    segments: Vec<&'static str>,
    target: Target,
    /// The pointer, for a path with no `*` (the one place it leads).
    pointer: Option<String>,
}

impl Pattern {
    fn new(path: &'static str, target: Target) -> Pattern {
        let segments: Vec<&'static str> = path.split('/').collect();
        let pointer = (!segments.contains(&"*")).then(|| {
            let mut pointer = String::new();
            segments
                .iter()
                .for_each(|s| classify::push_segment(&mut pointer, s));
            pointer
        });
        Pattern {
            segments,
            target,
            pointer,
        }
    }
}

/// Every kind's plan: its personal rows in the table's order, then the ids they name.
static PLANS: LazyLock<HashMap<EventKind, Vec<Pattern>>> = LazyLock::new(|| {
    let mut plans: HashMap<EventKind, Vec<Pattern>> = HashMap::default();
    for row in classify::TABLE {
        if let Class::Personal(p) = row.class {
            let pattern = Pattern::new(row.path, Target::Personal(p));
            plans.entry(row.kind).or_default().push(pattern);
        }
    }
    for patterns in plans.values_mut() {
        let mut ids: Vec<&'static str> = Vec::new();
        for p in patterns.iter() {
            if let Target::Personal(personal) = p.target
                && !ids.contains(&personal.id)
            {
                ids.push(personal.id);
            }
        }
        for id in ids {
            patterns.push(Pattern::new(id.trim_start_matches('/'), Target::Id));
        }
        assert!(
            patterns.len() <= LIVE_BITS,
            "a kind's plan has at most 64 paths"
        );
    }
    plans
});

fn plan(kind: EventKind) -> &'static [Pattern] {
    PLANS.get(&kind).map(Vec::as_slice).unwrap_or(&[])
}

/// The most patterns a plan has: one bit each in [`Ctx::live`].
const LIVE_BITS: usize = 64;

/// The bits of a plan of `len` patterns.
fn mask(len: usize) -> u64 {
    if len >= LIVE_BITS {
        u64::MAX
    } else {
        (1 << len) - 1
    }
}

/// What to do with the value at the current path.
enum Step {
    /// Nothing of the plan is at or under it: serialise it as it is.
    Plain,
    /// Something of the plan is under it: serialise it through the splitter.
    Follow,
    Personal(Personal, &'static Pattern),
    Id(&'static Pattern),
}

/// How a value is written.
enum Emit {
    Plain,
    Follow,
    /// As it is, and marked as personal.
    Personal(Personal, Cow<'static, str>),
}

struct Ctx {
    plan: &'static [Pattern],
    path: Vec<Cow<'static, str>>,
    /// For each depth of `path`, the plan's patterns that match it so far, a bit per
    /// pattern (a plan has at most [`LIVE_BITS`]).
    live: Vec<u64>,
    marks: Vec<Mark>,
    ids: Vec<(Cow<'static, str>, Value)>,
    /// How much of the event's JSON is written.
    written: Rc<Cell<usize>>,
}

impl Ctx {
    /// Enters `seg` and says what the plan has there: the first pattern (in the
    /// plan's order) that leads exactly to it, else whether one leads under it. Only
    /// the patterns that matched the path so far are compared, at the new segment.
    fn push(&mut self, seg: Cow<'static, str>) -> Step {
        let depth = self.path.len() + 1;
        let parent = self.live.last().copied().unwrap_or(u64::MAX);
        let mut live = 0;
        let mut follow = false;
        let mut exact = None;
        let mut bits = parent & mask(self.plan.len());
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let p = &self.plan[i];
            if p.segments
                .get(depth - 1)
                .is_none_or(|s| *s != "*" && *s != seg.as_ref())
            {
                continue;
            }
            live |= 1 << i;
            if p.segments.len() > depth {
                follow = true;
            } else if exact.is_none() {
                exact = Some(p);
            }
        }
        self.path.push(seg);
        self.live.push(live);
        match exact.map(|p| (p, p.target)) {
            Some((p, Target::Personal(personal))) => Step::Personal(personal, p),
            Some((p, Target::Id)) => Step::Id(p),
            None if follow => Step::Follow,
            None => Step::Plain,
        }
    }

    /// The JSON pointer of the current path, which `pattern` leads to.
    fn pointer(&self, pattern: &'static Pattern) -> Cow<'static, str> {
        if let Some(pointer) = &pattern.pointer {
            return Cow::Borrowed(pointer);
        }
        let len = self.path.iter().map(|seg| seg.len() + 1).sum();
        let mut out = String::with_capacity(len);
        for seg in &self.path {
            classify::push_segment(&mut out, seg);
        }
        Cow::Owned(out)
    }

    /// Enters `seg` and says how its `value` is written; [`Ctx::leave`] after.
    fn enter<T: Serialize + ?Sized>(
        &mut self,
        seg: Cow<'static, str>,
        value: &T,
    ) -> Result<Emit, serde_json::Error> {
        Ok(match self.push(seg) {
            Step::Plain => Emit::Plain,
            Step::Follow => Emit::Follow,
            Step::Id(pattern) => {
                let v = serde_json::to_value(value)?;
                self.ids.push((self.pointer(pattern), v));
                Emit::Plain
            }
            Step::Personal(personal, pattern) => Emit::Personal(personal, self.pointer(pattern)),
        })
    }

    fn leave(&mut self) {
        self.path.pop();
        self.live.pop();
    }
}

/// A serializer that splits as it forwards to `inner`.
struct Splitter<'c, S> {
    inner: S,
    ctx: &'c RefCell<Ctx>,
}

/// A value serialised through the splitter at the current path.
struct Follow<'c, 'v, T: ?Sized> {
    value: &'v T,
    ctx: &'c RefCell<Ctx>,
}

impl<T: Serialize + ?Sized> Serialize for Follow<'_, '_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(Splitter {
            inner: s,
            ctx: self.ctx,
        })
    }
}

/// The value written at a path: as it is, or through the splitter.
enum Out<'c, 'v, T: ?Sized> {
    Plain(&'v T),
    Follow(Follow<'c, 'v, T>),
}

impl<T: Serialize + ?Sized> Serialize for Out<'_, '_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Plain(v) => v.serialize(s),
            Out::Follow(f) => f.serialize(s),
        }
    }
}

/// Enters `seg` for `value`, writes it (in `slot`, worked out only for a personal
/// value) with `emit`, marks it if it is personal, and leaves.
fn at<T, R, E>(
    ctx: &RefCell<Ctx>,
    seg: Cow<'static, str>,
    slot: impl FnOnce() -> Slot,
    value: &T,
    emit: impl FnOnce(&Out<'_, '_, T>) -> Result<R, E>,
) -> Result<R, E>
where
    T: Serialize + ?Sized,
    E: ser::Error,
{
    let start = ctx.borrow().written.get();
    let step = ctx.borrow_mut().enter(seg, value).map_err(E::custom);
    let result = match step {
        Err(e) => Err(e),
        Ok(Emit::Plain) => emit(&Out::Plain(value)),
        Ok(Emit::Follow) => emit(&Out::Follow(Follow { value, ctx })),
        Ok(Emit::Personal(personal, pointer)) => emit(&Out::Plain(value)).inspect(|_| {
            let mut c = ctx.borrow_mut();
            let end = c.written.get();
            c.marks.push(Mark {
                personal,
                pointer,
                slot: slot(),
                start,
                end,
            });
        }),
    };
    ctx.borrow_mut().leave();
    result
}

/// A sequence's (or tuple's) items, each at its index; one taken out leaves `null`.
struct Items<'c, S> {
    inner: S,
    ctx: &'c RefCell<Ctx>,
    index: usize,
}

impl<'c, S> Items<'c, S> {
    fn new(inner: S, ctx: &'c RefCell<Ctx>) -> Self {
        Items {
            inner,
            ctx,
            index: 0,
        }
    }

    fn next_seg(&mut self) -> Cow<'static, str> {
        const SMALL: [&str; 8] = ["0", "1", "2", "3", "4", "5", "6", "7"];
        let seg = SMALL
            .get(self.index)
            .map_or_else(|| Cow::Owned(self.index.to_string()), |s| Cow::Borrowed(*s));
        self.index += 1;
        seg
    }
}

macro_rules! items {
    ($trait:ident, $method:ident) => {
        impl<S: ser::$trait> ser::$trait for Items<'_, S> {
            type Ok = S::Ok;
            type Error = S::Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
                let seg = self.next_seg();
                let inner = &mut self.inner;
                at(
                    self.ctx,
                    seg,
                    || Slot::Item,
                    value,
                    |out| inner.$method(out),
                )
            }
            fn end(self) -> Result<S::Ok, S::Error> {
                self.inner.end()
            }
        }
    };
}
items!(SerializeSeq, serialize_element);
items!(SerializeTuple, serialize_element);
items!(SerializeTupleStruct, serialize_field);

/// A variant's items, under the variant's name (popped at the end).
struct VariantItems<'c, S> {
    items: Items<'c, S>,
}

impl<S: ser::SerializeTupleVariant> ser::SerializeTupleVariant for VariantItems<'_, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
        let seg = self.items.next_seg();
        let inner = &mut self.items.inner;
        at(
            self.items.ctx,
            seg,
            || Slot::Item,
            value,
            |out| inner.serialize_field(out),
        )
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.items.ctx.borrow_mut().leave();
        self.items.inner.end()
    }
}

/// A struct's fields, each under its name; one taken out is left out.
struct Fields<'c, S> {
    inner: S,
    ctx: &'c RefCell<Ctx>,
    /// A struct variant: its name is on the path until the end.
    variant: bool,
}

macro_rules! fields {
    ($trait:ident) => {
        impl<S: ser::$trait> ser::$trait for Fields<'_, S> {
            type Ok = S::Ok;
            type Error = S::Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), S::Error> {
                let inner = &mut self.inner;
                let slot = || Slot::Member(json_len(key));
                at(self.ctx, Cow::Borrowed(key), slot, value, |out| {
                    inner.serialize_field(key, out)
                })
            }
            fn skip_field(&mut self, key: &'static str) -> Result<(), S::Error> {
                self.inner.skip_field(key)
            }
            fn end(self) -> Result<S::Ok, S::Error> {
                if self.variant {
                    self.ctx.borrow_mut().leave();
                }
                self.inner.end()
            }
        }
    };
}
fields!(SerializeStruct);
fields!(SerializeStructVariant);

/// A map's entries, each under its key; one taken out is left out. The key is held
/// until its value is known (serde may send them apart).
struct Entries<'c, S> {
    inner: S,
    ctx: &'c RefCell<Ctx>,
    key: Option<Value>,
}

impl<S: ser::SerializeMap> Entries<'_, S> {
    fn entry<V: Serialize + ?Sized>(&mut self, key: Value, value: &V) -> Result<(), S::Error> {
        let seg = match &key {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        // Keys are written as strings, a number's in quotes.
        let slot = Slot::Member(json_len(&seg));
        let slot = move || slot;
        let inner = &mut self.inner;
        at(self.ctx, Cow::Owned(seg), slot, value, |out| {
            inner.serialize_entry(&key, out)
        })
    }
}

impl<S: ser::SerializeMap> ser::SerializeMap for Entries<'_, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), S::Error> {
        self.key = Some(serde_json::to_value(key).map_err(S::Error::custom)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| S::Error::custom("a map value without its key"))?;
        self.entry(key, value)
    }
    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), S::Error> {
        let key = serde_json::to_value(key).map_err(S::Error::custom)?;
        self.entry(key, value)
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.inner.end()
    }
}

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $method(self, $($arg: $ty),*) -> Result<S::Ok, S::Error> {
            self.inner.$method($($arg),*)
        })*
    };
}

impl<'c, S: Serializer> Serializer for Splitter<'c, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Items<'c, S::SerializeSeq>;
    type SerializeTuple = Items<'c, S::SerializeTuple>;
    type SerializeTupleStruct = Items<'c, S::SerializeTupleStruct>;
    type SerializeTupleVariant = VariantItems<'c, S::SerializeTupleVariant>;
    type SerializeMap = Entries<'c, S::SerializeMap>;
    type SerializeStruct = Fields<'c, S::SerializeStruct>;
    type SerializeStructVariant = Fields<'c, S::SerializeStructVariant>;

    forward! {
        serialize_bool(v: bool);
        serialize_i8(v: i8);
        serialize_i16(v: i16);
        serialize_i32(v: i32);
        serialize_i64(v: i64);
        serialize_i128(v: i128);
        serialize_u8(v: u8);
        serialize_u16(v: u16);
        serialize_u32(v: u32);
        serialize_u64(v: u64);
        serialize_u128(v: u128);
        serialize_f32(v: f32);
        serialize_f64(v: f64);
        serialize_char(v: char);
        serialize_str(v: &str);
        serialize_bytes(v: &[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(name: &'static str);
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        let inner = self.inner;
        let slot = || Slot::Variant(json_len(variant));
        at(self.ctx, Cow::Borrowed(variant), slot, value, |out| {
            inner.serialize_newtype_variant(name, index, variant, out)
        })
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        Ok(Items::new(self.inner.serialize_seq(len)?, self.ctx))
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        Ok(Items::new(self.inner.serialize_tuple(len)?, self.ctx))
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        Ok(Items::new(
            self.inner.serialize_tuple_struct(name, len)?,
            self.ctx,
        ))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        let inner = self
            .inner
            .serialize_tuple_variant(name, index, variant, len)?;
        self.ctx.borrow_mut().push(Cow::Borrowed(variant));
        Ok(VariantItems {
            items: Items::new(inner, self.ctx),
        })
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        Ok(Entries {
            inner: self.inner.serialize_map(len)?,
            ctx: self.ctx,
            key: None,
        })
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        Ok(Fields {
            inner: self.inner.serialize_struct(name, len)?,
            ctx: self.ctx,
            variant: false,
        })
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        let inner = self
            .inner
            .serialize_struct_variant(name, index, variant, len)?;
        self.ctx.borrow_mut().push(Cow::Borrowed(variant));
        Ok(Fields {
            inner,
            ctx: self.ctx,
            variant: true,
        })
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use muster_core::privacy::classify::Erased;
    use muster_core::privacy::{Category, RecordType};

    fn mark(full: &str, text: &str, slot: Slot, keep: Keep) -> Mark {
        let start = full.find(text).expect("the test's text is in the JSON");
        Mark {
            personal: Personal {
                category: Category::CallerDetails,
                record: RecordType::Contact,
                id: "/id",
                keep,
                erased: Erased::Text,
            },
            pointer: Cow::Borrowed("/x"),
            slot,
            start,
            end: start + text.len(),
        }
    }

    /// Members first in their object (one after another, then one kept), an array's
    /// item, a coarse number and a `null`: the body is what serde would have written
    /// without them, and each leaf's value is its JSON.
    #[test]
    fn cuts_leave_the_json_serde_would_write_without_them() {
        let full = r#"{"a":"x","b":"y","c":1,"d":[1,"p",3],"e":51.4656,"f":null}"#;
        let marks = vec![
            mark(full, r#""a":"x""#, Slot::Member(3), Keep::Sealed),
            mark(full, r#","b":"y""#, Slot::Member(3), Keep::Sealed),
            mark(full, r#","p""#, Slot::Item, Keep::Sealed),
            mark(full, r#","e":51.4656"#, Slot::Member(3), Keep::Coarse),
            mark(full, r#","f":null"#, Slot::Member(3), Keep::Sealed),
        ];
        let (body, leaves) = cut(full.as_bytes(), marks, 3);
        let body = String::from_utf8(body).unwrap();
        assert_eq!(body, r#"{"c":1,"d":[1,null,3],"e":51.466,"f":null}"#);
        let values: Vec<&str> = leaves.iter().map(|l| &full[l.value.clone()]).collect();
        assert_eq!(values, [r#""x""#, r#""y""#, r#""p""#, "51.4656"]);
        let last = r#"{"k":1,"z":"q"}"#;
        let marks = vec![mark(last, r#","z":"q""#, Slot::Member(3), Keep::Sealed)];
        assert_eq!(cut(last.as_bytes(), marks, 3).0, br#"{"k":1}"#);
    }
}
