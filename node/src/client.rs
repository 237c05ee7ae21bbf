//! The operator API's client side, used by the CLI (and by tests and the demo).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use serde_json::Value;

use crate::api::Request;

/// The node is not running (or its API socket is not there).
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the node at {path}: {reason}; is it running? (start it with `hotline run --home DIR`)")]
pub struct NotRunning {
    /// The socket path.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// The node refused the request.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// An open API connection.
pub struct Client {
    stream: BufReader<UnixStream>,
}

impl Client {
    /// Connects to the node's API socket.
    pub fn connect(path: &Path) -> Result<Client> {
        let stream = UnixStream::connect(path)
            .map_err(|e| NotRunning { path: path.display().to_string(), reason: e.to_string() })?;
        Ok(Client { stream: BufReader::new(stream) })
    }

    /// Sends one request and returns its result (or the node's refusal as [`Refused`]).
    pub fn call(&mut self, request: &Request) -> Result<Value> {
        let mut line = serde_json::to_vec(request)?;
        line.push(b'\n');
        self.stream.get_mut().write_all(&line).context("writing to the node")?;
        let answer = self.next_line()?.ok_or_else(|| anyhow!("the node closed the connection"))?;
        match answer.get("ok").and_then(Value::as_bool) {
            Some(true) => Ok(answer.get("result").cloned().unwrap_or(Value::Null)),
            _ => Err(Refused(
                answer.get("error").and_then(Value::as_str).unwrap_or("unknown error").to_string(),
            )
            .into()),
        }
    }

    /// Bounds how long [`Client::next_line`] waits; after a timeout the connection should be
    /// dropped (a line may have been cut).
    pub fn set_read_timeout(&self, limit: Option<std::time::Duration>) -> Result<()> {
        Ok(self.stream.get_ref().set_read_timeout(limit)?)
    }

    /// The next line from the node (events after `watch`); `None` when it hangs up.
    pub fn next_line(&mut self) -> Result<Option<Value>> {
        let mut line = String::new();
        if self.stream.read_line(&mut line).context("reading from the node")? == 0 {
            return Ok(None);
        }
        Ok(Some(serde_json::from_str(&line).context("the node sent invalid JSON")?))
    }
}

/// One request on a fresh connection.
pub fn call(path: &Path, request: &Request) -> Result<Value> {
    Client::connect(path)?.call(request)
}
