//! Stand-in until the API branch lands.
use crate::engine::state::CommandOutcome;
use crate::engine::{Command, Error};
pub async fn prepare(command: Command) -> Result<Command, Error> {
    Ok(command)
}
pub fn result_json(id: &str, result: &Result<CommandOutcome, Error>) -> String {
    match result {
        Ok(o) => serde_json::json!({"type":"result","id":id,"ok":true,"seq":o.seq,"data":o.data}).to_string(),
        Err(e) => serde_json::json!({"type":"result","id":id,"ok":false,"error":{"code":e.code(),"message":e.to_string()}}).to_string(),
    }
}
