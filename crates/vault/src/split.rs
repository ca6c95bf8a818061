//! Splitting an event's personal values from its clear body as it serialises: one
//! pass of serde straight into the body's bytes, following only the paths the
//! classification table names for the event's kind. The writer seals every event it
//! decides, and building a `serde_json::Value` of each, walking it for the table's
//! paths and serialising it again cost more than the encryption.
//!
//! Where a path meets a personal row, the value is taken out (an array item leaves
//! `null` in its place, so the others keep their positions) or, for a `Coarse` row,
//! left rounded; where it meets the record id a row names, the id is noted. Every
//! other value goes to the body as serde writes it. What comes out is what
//! [`classify::personal_leaves`] finds in the same event (a test holds the two to it).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::ser::{self, Error as _, Serializer};
use serde_json::Value;

use muster_core::engine::EventKind;
use muster_core::privacy::classify::{self, Class, ClassifyError, Keep, Personal};

/// A personal value taken from an event: its row, its exact pointer and its value.
pub struct Leaf {
    pub personal: Personal,
    pub pointer: Cow<'static, str>,
    pub value: Value,
}

/// An event split: its clear body (JSON, as serde wrote it less the personal
/// values), the personal values in the order they were met, and the record ids.
pub struct Split {
    pub body: Vec<u8>,
    pub leaves: Vec<Leaf>,
    ids: Vec<(Cow<'static, str>, Value)>,
}

impl Split {
    /// The leaves grouped by scope, in the order the scopes are first met.
    pub fn scopes(
        &self,
        kind: EventKind,
        at: DateTime<Utc>,
    ) -> Result<Vec<(String, Vec<&Leaf>)>, ClassifyError> {
        let mut scopes: Vec<(String, Vec<&Leaf>)> = Vec::new();
        for leaf in &self.leaves {
            let p = &leaf.personal;
            let id = self.id_of(kind, leaf)?;
            let scope = muster_core::privacy::scope(p.record, id, p.category, at);
            match scopes.iter_mut().find(|(s, _)| *s == scope) {
                Some((_, leaves)) => leaves.push(leaf),
                None => scopes.push((scope, vec![leaf])),
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
pub fn split<T: Serialize>(event: &T, kind: EventKind, decimals: u32) -> Result<Split, String> {
    let ctx = RefCell::new(Ctx {
        plan: plan(kind),
        path: Vec::with_capacity(4),
        leaves: Vec::new(),
        ids: Vec::new(),
        decimals,
    });
    let mut body = Vec::with_capacity(512);
    let mut ser = serde_json::Serializer::new(&mut body);
    event
        .serialize(Splitter {
            inner: &mut ser,
            ctx: &ctx,
        })
        .map_err(|e| e.to_string())?;
    let ctx = ctx.into_inner();
    Ok(Split {
        body,
        leaves: ctx.leaves,
        ids: ctx.ids,
    })
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
    let mut plans: HashMap<EventKind, Vec<Pattern>> = HashMap::new();
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
    }
    plans
});

fn plan(kind: EventKind) -> &'static [Pattern] {
    PLANS.get(&kind).map(Vec::as_slice).unwrap_or(&[])
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

/// How a value goes into the clear body.
enum Emit {
    Plain,
    Follow,
    /// This value instead (a rounded coordinate, a noted id, a `null`).
    Value(Value),
    /// Nothing: the value was taken out.
    Skip,
}

struct Ctx {
    plan: &'static [Pattern],
    path: Vec<Cow<'static, str>>,
    leaves: Vec<Leaf>,
    ids: Vec<(Cow<'static, str>, Value)>,
    decimals: u32,
}

impl Ctx {
    fn step(&self) -> Step {
        let mut follow = false;
        for p in self.plan {
            if p.segments.len() < self.path.len()
                || !p
                    .segments
                    .iter()
                    .zip(&self.path)
                    .all(|(s, q)| *s == "*" || *s == q.as_ref())
            {
                continue;
            }
            if p.segments.len() > self.path.len() {
                follow = true;
                continue;
            }
            return match p.target {
                Target::Personal(personal) => Step::Personal(personal, p),
                Target::Id => Step::Id(p),
            };
        }
        if follow { Step::Follow } else { Step::Plain }
    }

    /// The JSON pointer of the current path, which `pattern` leads to.
    fn pointer(&self, pattern: &'static Pattern) -> Cow<'static, str> {
        if let Some(pointer) = &pattern.pointer {
            return Cow::Borrowed(pointer);
        }
        let mut out = String::new();
        for seg in &self.path {
            classify::push_segment(&mut out, seg);
        }
        Cow::Owned(out)
    }

    /// Enters `seg` and says how its `value` goes into the body; [`Ctx::leave`] after.
    fn enter<T: Serialize + ?Sized>(
        &mut self,
        seg: Cow<'static, str>,
        value: &T,
    ) -> Result<Emit, serde_json::Error> {
        self.path.push(seg);
        Ok(match self.step() {
            Step::Plain => Emit::Plain,
            Step::Follow => Emit::Follow,
            Step::Id(pattern) => {
                let v = serde_json::to_value(value)?;
                self.ids.push((self.pointer(pattern), v.clone()));
                Emit::Value(v)
            }
            Step::Personal(personal, pattern) => {
                let value = serde_json::to_value(value)?;
                if value.is_null() {
                    return Ok(Emit::Value(Value::Null));
                }
                let clear = match personal.keep {
                    Keep::Sealed => Emit::Skip,
                    Keep::Coarse => Emit::Value(match value.as_f64() {
                        Some(x) => serde_json::Number::from_f64(classify::round(x, self.decimals))
                            .map_or(Value::Null, Value::Number),
                        None => value.clone(),
                    }),
                };
                let pointer = self.pointer(pattern);
                self.leaves.push(Leaf {
                    personal,
                    pointer,
                    value,
                });
                clear
            }
        })
    }

    fn leave(&mut self) {
        self.path.pop();
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

/// The value written at a path: as it is, through the splitter, or another in its place.
enum Out<'c, 'v, T: ?Sized> {
    Plain(&'v T),
    Follow(Follow<'c, 'v, T>),
    Value(Value),
}

impl<T: Serialize + ?Sized> Serialize for Out<'_, '_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Plain(v) => v.serialize(s),
            Out::Follow(f) => f.serialize(s),
            Out::Value(v) => v.serialize(s),
        }
    }
}

/// Enters `seg` for `value`, writes it with `emit` (given what to write, or `None` to
/// leave it out) and leaves.
fn at<T, R, E>(
    ctx: &RefCell<Ctx>,
    seg: Cow<'static, str>,
    value: &T,
    emit: impl FnOnce(Option<&Out<'_, '_, T>>) -> Result<R, E>,
) -> Result<R, E>
where
    T: Serialize + ?Sized,
    E: ser::Error,
{
    let step = ctx.borrow_mut().enter(seg, value);
    let result = match step {
        Err(e) => Err(E::custom(e)),
        Ok(Emit::Plain) => emit(Some(&Out::Plain(value))),
        Ok(Emit::Follow) => emit(Some(&Out::Follow(Follow { value, ctx }))),
        Ok(Emit::Value(v)) => emit(Some(&Out::Value(v))),
        Ok(Emit::Skip) => emit(None),
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
        let seg = Cow::Owned(self.index.to_string());
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
                at(self.ctx, seg, value, |out| match out {
                    Some(out) => inner.$method(out),
                    None => inner.$method(&Value::Null),
                })
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
        at(self.items.ctx, seg, value, |out| match out {
            Some(out) => inner.serialize_field(out),
            None => inner.serialize_field(&Value::Null),
        })
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
                at(self.ctx, Cow::Borrowed(key), value, |out| match out {
                    Some(out) => inner.serialize_field(key, out),
                    None => Ok(()),
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
        let inner = &mut self.inner;
        at(self.ctx, Cow::Owned(seg), value, |out| match out {
            Some(out) => inner.serialize_entry(&key, out),
            None => Ok(()),
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
        at(self.ctx, Cow::Borrowed(variant), value, |out| match out {
            Some(out) => inner.serialize_newtype_variant(name, index, variant, out),
            None => inner.serialize_newtype_variant(name, index, variant, &Value::Null),
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
        self.ctx.borrow_mut().path.push(Cow::Borrowed(variant));
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
        self.ctx.borrow_mut().path.push(Cow::Borrowed(variant));
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
