//! The centre's procedures as data (filled in by the config work).
// Temporary stand-in until the config branch lands.
use std::collections::BTreeMap;
use serde::{Deserialize, Serialize};
use super::triage::Priority;
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Centre { pub name: String, pub types: Vec<IncidentType>, pub matrix: PriorityMatrix }
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentType { pub id: String, pub default_priority: Priority, pub responsibilities: String, pub actions: Vec<ActionTemplate>, pub required_skills: Vec<String> }
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionTemplate { pub text: String, pub required: bool }
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PriorityMatrix {}
impl PriorityMatrix { pub fn priority(&self, _i: &str, _u: &str) -> Option<Priority> { None } }
impl Centre { pub fn incident_type(&self, id: &str) -> Option<&IncidentType> { self.types.iter().find(|t| t.id == id) } }
impl IncidentType {
    pub fn protocol_priority(&self, _a: &BTreeMap<String, serde_json::Value>) -> (Priority, Option<String>) { (self.default_priority, None) }
    pub fn check_answer(&self, _q: &str, _v: &serde_json::Value) -> Result<(), String> { Ok(()) }
}
