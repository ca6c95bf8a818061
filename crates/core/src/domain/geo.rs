//! Places: where a contact came from, where an incident is, where a resource was last.

use serde::{Deserialize, Serialize};

use super::DomainError;

/// A place as a caller describes it and, when known, as coordinates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Location {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// The gazetteer place it was chosen from (`GET /api/places`), when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_id: Option<String>,
}

impl Location {
    /// Coordinates when both are known.
    pub fn point(&self) -> Option<(f64, f64)> {
        Some((self.lat?, self.lon?))
    }

    /// Checks ranges and that a location says something.
    pub fn validate(&self, field: &str, required: bool) -> Result<(), DomainError> {
        if self.lat.is_some() != self.lon.is_some() {
            return Err(DomainError::validation(
                field,
                "give both lat and lon, or neither",
            ));
        }
        if let Some((lat, lon)) = self.point() {
            check_coordinates(field, lat, lon)?;
        }
        let has_text = self.text.as_deref().is_some_and(|t| !t.trim().is_empty());
        if required && !has_text && self.point().is_none() {
            return Err(DomainError::validation(
                field,
                "give a text description or lat and lon",
            ));
        }
        if let Some(t) = &self.text {
            super::check_text(&format!("{field}.text"), t, super::MAX_SHORT_TEXT, false)?;
        }
        if let Some(id) = &self.place_id {
            super::place::check_place_id(&format!("{field}.place_id"), id)?;
        }
        Ok(())
    }
}

/// Latitude within ±90, longitude within ±180, both finite.
pub fn check_coordinates(field: &str, lat: f64, lon: f64) -> Result<(), DomainError> {
    if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
        return Err(DomainError::validation(
            &format!("{field}.lat"),
            "must be a number from -90 to 90",
        ));
    }
    if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
        return Err(DomainError::validation(
            &format!("{field}.lon"),
            "must be a number from -180 to 180",
        ));
    }
    Ok(())
}

/// Great-circle distance in metres.
pub fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    const EARTH_RADIUS_M: f64 = 6_371_008.8;
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_matches_a_known_distance() {
        // London (51.5074, -0.1278) to Paris (48.8566, 2.3522) is about 343.5 km.
        let d = haversine_m((51.5074, -0.1278), (48.8566, 2.3522));
        assert!((d - 343_500.0).abs() < 1_000.0, "{d}");
    }

    #[test]
    fn location_validation_names_the_field() {
        let bad = Location {
            text: None,
            lat: Some(91.0),
            lon: Some(0.0),
            place_id: None,
        };
        let err = bad.validate("location", true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "location.lat: must be a number from -90 to 90"
        );
        assert!(Location::default().validate("location", true).is_err());
        assert!(Location::default().validate("location", false).is_ok());
    }

    #[test]
    fn a_place_id_is_validated() {
        let at = |id: &str| Location {
            text: Some("Civic Centre".into()),
            lat: Some(51.5074),
            lon: Some(-0.1278),
            place_id: Some(id.into()),
        };
        assert!(at("civic-centre").validate("location", true).is_ok());
        let err = at("no spaces please")
            .validate("location", true)
            .unwrap_err();
        assert!(err.to_string().starts_with("location.place_id: "), "{err}");
        assert!(at("").validate("location", true).is_err());
    }
}
