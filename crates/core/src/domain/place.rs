//! The centre's gazetteer: its own places (sites, buildings, landmarks) with
//! coordinates and premise notes (hazards, access codes), loaded from a CSV file at
//! start-up (`config/places.csv`, see `config::load_places`) and searched by name and
//! postcode as an operator types a location.

use serde::Serialize;

use super::DomainError;
use super::geo::{check_coordinates, haversine_m};

/// Longest place id (also the bound on `location.place_id` in commands).
pub const MAX_PLACE_ID: usize = 64;
/// Most places one search answers.
pub const MAX_RESULTS: usize = 10;

/// One place of the gazetteer.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Place {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub postcode: String,
    pub lat: f64,
    pub lon: f64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Premise notes for whoever goes there: hazards, access codes, contacts.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub notes: String,
}

/// A place id: 1 to 64 characters of letters, digits, `-`, `_` and `.`.
pub fn check_place_id(field: &str, id: &str) -> Result<(), DomainError> {
    if id.is_empty() || id.chars().count() > MAX_PLACE_ID {
        return Err(DomainError::validation(
            field,
            &format!("must be 1 to {MAX_PLACE_ID} characters"),
        ));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(DomainError::validation(
            field,
            "may hold only letters, digits, '-', '_' and '.'",
        ));
    }
    Ok(())
}

/// The centre's places, in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gazetteer {
    pub places: Vec<Place>,
}

/// Lower case without spaces: how names and postcodes are compared.
fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

impl Gazetteer {
    pub fn get(&self, id: &str) -> Option<&Place> {
        self.places.iter().find(|p| p.id == id)
    }

    /// Places whose name or postcode holds `q` (case and spaces ignored), those
    /// starting with it first, then by name; at most `limit` (capped at
    /// [`MAX_RESULTS`]). An empty query finds nothing.
    pub fn search(&self, q: &str, limit: usize) -> Vec<&Place> {
        let q = fold(q);
        if q.is_empty() {
            return Vec::new();
        }
        let mut hits: Vec<(u8, &Place)> = self
            .places
            .iter()
            .filter_map(|p| {
                let (name, postcode) = (fold(&p.name), fold(&p.postcode));
                if postcode == q || name.starts_with(&q) || postcode.starts_with(&q) {
                    Some((0, p))
                } else if name.contains(&q) || postcode.contains(&q) {
                    Some((1, p))
                } else {
                    None
                }
            })
            .collect();
        hits.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
        hits.into_iter()
            .take(limit.min(MAX_RESULTS))
            .map(|(_, p)| p)
            .collect()
    }

    /// Places within `metres` of `point`, nearest first.
    pub fn near(&self, point: (f64, f64), metres: f64) -> Vec<(&Place, f64)> {
        let mut out: Vec<(&Place, f64)> = self
            .places
            .iter()
            .map(|p| (p, haversine_m(point, (p.lat, p.lon))))
            .filter(|(_, d)| *d <= metres)
            .collect();
        out.sort_by(|a, b| a.1.total_cmp(&b.1));
        out
    }
}

/// A problem in the places file: its 1-based line, the column and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvProblem {
    pub line: usize,
    pub field: String,
    pub message: String,
}

/// The columns a places file must have (in any order, named on its first line);
/// `postcode`, `kind` and `notes` may be empty.
pub const COLUMNS: [&str; 7] = ["id", "name", "postcode", "lat", "lon", "kind", "notes"];

/// Parses a places CSV: a header line naming [`COLUMNS`], then one place a line.
/// Fields may be quoted (`"…"`, with `""` for a quote) to hold commas; a record is one
/// line. Blank lines and lines starting with `#` are skipped. Every problem is
/// reported with its line.
pub fn parse_csv(text: &str) -> Result<Gazetteer, Vec<CsvProblem>> {
    let mut problems = Vec::new();
    let mut places: Vec<Place> = Vec::new();
    let mut header: Option<Vec<String>> = None;
    let problem = |line: usize, field: &str, message: String| CsvProblem {
        line,
        field: field.to_string(),
        message,
    };
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() || raw.trim_start().starts_with('#') {
            continue;
        }
        let fields = match split_line(raw) {
            Ok(f) => f,
            Err(m) => {
                problems.push(problem(line, "line", m));
                continue;
            }
        };
        let Some(cols) = &header else {
            let names: Vec<String> = fields.iter().map(|f| f.trim().to_lowercase()).collect();
            for want in COLUMNS {
                if !names.iter().any(|n| n == want) {
                    problems.push(problem(line, want, "missing column".to_string()));
                }
            }
            for n in &names {
                if !COLUMNS.contains(&n.as_str()) {
                    problems.push(problem(line, n, "unknown column".to_string()));
                }
            }
            if !problems.is_empty() {
                return Err(problems);
            }
            header = Some(names);
            continue;
        };
        if fields.len() != cols.len() {
            problems.push(problem(
                line,
                "line",
                format!("has {} fields, the header {}", fields.len(), cols.len()),
            ));
            continue;
        }
        let get = |name: &str| {
            cols.iter()
                .position(|c| c == name)
                .map(|i| fields[i].trim().to_string())
                .unwrap_or_default()
        };
        let before = problems.len();
        let id = get("id");
        if let Err(e) = check_place_id("id", &id) {
            problems.push(problem(line, "id", reason(&e)));
        } else if places.iter().any(|p| p.id == id) {
            problems.push(problem(line, "id", format!("{id} is already used")));
        }
        let name = get("name");
        if let Err(e) = super::check_text("name", &name, super::MAX_SHORT_TEXT, true) {
            problems.push(problem(line, "name", reason(&e)));
        }
        let number = |col: &str, problems: &mut Vec<CsvProblem>| match get(col).parse::<f64>() {
            Ok(v) => Some(v),
            Err(_) => {
                problems.push(problem(
                    line,
                    col,
                    format!("{:?} is not a number", get(col)),
                ));
                None
            }
        };
        let lat = number("lat", &mut problems);
        let lon = number("lon", &mut problems);
        if let (Some(lat), Some(lon)) = (lat, lon)
            && let Err(DomainError::Validation { field, reason }) = check_coordinates("", lat, lon)
        {
            problems.push(problem(line, field.trim_start_matches('.'), reason));
        }
        let notes = get("notes");
        if let Err(e) = super::check_text("notes", &notes, super::MAX_TEXT, false) {
            problems.push(problem(line, "notes", reason(&e)));
        }
        if problems.len() == before {
            places.push(Place {
                id,
                name,
                postcode: get("postcode"),
                lat: lat.unwrap_or_default(),
                lon: lon.unwrap_or_default(),
                kind: get("kind"),
                notes,
            });
        }
    }
    if header.is_none() {
        problems.push(problem(
            1,
            "header",
            format!("expected a header line: {}", COLUMNS.join(",")),
        ));
    }
    if problems.is_empty() {
        Ok(Gazetteer { places })
    } else {
        Err(problems)
    }
}

fn reason(e: &DomainError) -> String {
    match e {
        DomainError::Validation { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// Splits one CSV line into fields, honouring double quotes.
fn split_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cur.push('"');
                }
                '"' => quoted = false,
                _ => cur.push(c),
            }
        } else {
            match c {
                ',' => {
                    fields.push(std::mem::take(&mut cur));
                    was_quoted = false;
                }
                '"' if cur.trim().is_empty() && !was_quoted => {
                    cur.clear();
                    quoted = true;
                    was_quoted = true;
                }
                '"' => return Err("a quote inside an unquoted field".to_string()),
                _ if was_quoted && !c.is_whitespace() => {
                    return Err("text after a closing quote".to_string());
                }
                _ => cur.push(c),
            }
        }
    }
    if quoted {
        return Err("a quoted field is not closed on its line".to_string());
    }
    fields.push(cur);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "id,name,postcode,lat,lon,kind,notes\n\
        # a comment\n\
        civic,Civic Centre,WC2N 5DU,51.5074,-0.1278,building,\"Plant room: code 4471, ask security\"\n\
        \n\
        market,Covent Garden Market,WC2E 8RF,51.5120,-0.1226,site,\n";

    #[test]
    fn a_good_file_parses_with_quoted_commas() {
        let g = parse_csv(GOOD).unwrap();
        assert_eq!(g.places.len(), 2);
        assert_eq!(g.places[0].notes, "Plant room: code 4471, ask security");
        assert_eq!(g.get("market").unwrap().postcode, "WC2E 8RF");
    }

    #[test]
    fn problems_name_their_line_and_column() {
        let text = "id,name,postcode,lat,lon,kind,notes\n\
            ok,Fine,,51.5,-0.1,,\n\
            bad id,Name,,51.5,-0.1,,\n\
            ok,Again,,51.5,-0.1,,\n\
            x,No lat,,north,-0.1,,\n\
            y,Too far,,95,-0.1,,\n\
            z,Short,,51.5\n\
            q,\"open,,1,2,,\n";
        let problems = parse_csv(text).unwrap_err();
        let got: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.field.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, "id"),
                (4, "id"),
                (5, "lat"),
                (6, "lat"),
                (7, "line"),
                (8, "line")
            ],
            "{problems:?}"
        );
        assert!(problems[1].message.contains("already used"));
    }

    #[test]
    fn a_missing_column_is_named() {
        let problems = parse_csv("id,name,lat,lon\n").unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.line == 1 && p.field == "postcode")
        );
        assert!(parse_csv("").is_err());
    }

    #[test]
    fn search_ignores_case_and_spaces_in_postcodes_and_is_bounded() {
        let g = parse_csv(GOOD).unwrap();
        assert_eq!(g.search("wc2n5du", 10)[0].id, "civic");
        assert_eq!(g.search("  WC2E 8rf ", 10)[0].id, "market");
        assert_eq!(g.search("market", 10)[0].id, "market");
        assert_eq!(g.search("centre", 10)[0].id, "civic");
        assert!(g.search("", 10).is_empty());
        let many = Gazetteer {
            places: (0..30)
                .map(|i| Place {
                    id: format!("p{i}"),
                    name: format!("Depot {i}"),
                    postcode: String::new(),
                    lat: 51.5,
                    lon: -0.1,
                    kind: String::new(),
                    notes: String::new(),
                })
                .collect(),
        };
        assert_eq!(many.search("depot", 1000).len(), MAX_RESULTS);
    }

    #[test]
    fn place_ids_are_checked() {
        assert!(check_place_id("place_id", "civic-centre_2.b").is_ok());
        assert!(check_place_id("place_id", "").is_err());
        assert!(check_place_id("place_id", "a b").is_err());
        assert!(check_place_id("place_id", &"x".repeat(65)).is_err());
    }
}
