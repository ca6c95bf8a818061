//! What sealing costs the writer per record: `cargo bench -p muster-vault --bench seal`.
//!
//! Seals a log of 200 desk contacts and incidents (each a new record, so each scope
//! makes its key) fifty times over, seven rounds, and prints the best round's time per
//! record. Compare builds in one session, alternating: the machines are noisy.

use muster_core::testing::{self, World};
use muster_vault::{MasterKey, NewKeys, Vault};

fn main() {
    let mut w = World::seeded();
    let op = w.actor("operator");
    for i in 0..200 {
        let summary = format!("Person collapsed near the lifts {i}");
        w.ok(&op, testing::contact_receive(&summary));
        w.ok(&op, testing::incident_open("medical_emergency", None));
    }
    let records = w.log.clone();
    let vault = Vault::new(&MasterKey::generate(), 3);
    let (rounds, repeats) = (7, 50);
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let started = std::time::Instant::now();
        for _ in 0..repeats {
            let mut new = NewKeys::default();
            for r in &records {
                std::hint::black_box(vault.seal(r, &mut new).expect("the event seals"));
            }
        }
        let each = started.elapsed().as_secs_f64() * 1e9 / (repeats * records.len()) as f64;
        best = best.min(each);
    }
    println!(
        "sealing: {best:.0} ns a record ({} records, best of {rounds} rounds)",
        records.len()
    );
}
