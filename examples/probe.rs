use muster::engine::{Record, State};
use muster::store::EventLog;
use muster::store::sqlite::SqliteLog;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let log = SqliteLog::open_readonly(std::path::Path::new("/tmp/rb1m/muster.sqlite")).unwrap();
    for phase in 0..3 {
        let t = Instant::now();
        let mut after = 0;
        let mut n = 0u64;
        let mut state = State::default();
        loop {
            let page = log.read_from(after, 10_000).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.seq;
            if phase == 0 {
                n += page.len() as u64;
                continue;
            }
            for s in page
                .iter()
                .filter(|s| muster::domain::review::needs(&s.kind))
            {
                let rec = Record::from_stored(s).unwrap();
                n += 1;
                if phase == 2 {
                    state.apply(&rec);
                }
            }
        }
        println!("phase {phase}: {n} in {:?}", t.elapsed());
    }
}
