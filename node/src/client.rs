//! The operator API's client side, used by the CLI (and by tests and the demo).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{Answer, Request, API_VERSION};

/// The node is not running (or its API socket is not there).
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the node at {path}: {reason}")]
pub struct NotRunning {
    /// The socket path.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// Why the API socket `path` could not be reached, in words that say what to do: a directory that
/// is not there or is no node's (a wrong `--home`) is not a node that is down, and a socket left
/// by a crash is not a node that is running.
fn why_unreachable(path: &Path, e: &std::io::Error) -> String {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let start = "start it with `hotline run --home DIR`";
    if !dir.is_dir() {
        format!(
            "there is no directory {}: give --home (or HOTLINE_HOME) the directory of a node, made by `hotline init` or `hotline testnet init`",
            dir.display()
        )
    } else if !dir.join("config.toml").is_file() {
        format!(
            "{} is not a node directory (it has no config.toml): give --home (or HOTLINE_HOME) the directory of a node",
            dir.display()
        )
    } else {
        match e.kind() {
            std::io::ErrorKind::NotFound => format!("the node is not running; {start}"),
            std::io::ErrorKind::ConnectionRefused => format!(
                "the node is not running (its api.sock is left from a run that did not stop cleanly); {start}"
            ),
            _ => format!("{e}; is the node running? ({start})"),
        }
    }
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
        let stream = UnixStream::connect(path).map_err(|e| NotRunning {
            path: path.display().to_string(),
            reason: why_unreachable(path, &e),
        })?;
        Ok(Client { stream: BufReader::new(stream) })
    }

    /// Sends one request and returns its result as JSON (or the node's refusal as [`Refused`]).
    pub fn call(&mut self, request: &Request) -> Result<Value> {
        let mut line = serde_json::to_vec(request)?;
        line.push(b'\n');
        self.stream.get_mut().write_all(&line).context("writing to the node")?;
        let line = self.next_line()?.ok_or_else(|| anyhow!("the node closed the connection"))?;
        let answer: Answer =
            serde_json::from_value(line).context("the node's answer is not an API answer")?;
        if answer.api != API_VERSION {
            bail!(
                "the node speaks operator API version {}, this program version {API_VERSION}: run the same release of hotline on both",
                answer.api
            );
        }
        match (answer.ok, answer.result, answer.error) {
            (true, result, _) => Ok(result.unwrap_or(Value::Null)),
            (false, _, error) => Err(Refused(error.unwrap_or_else(|| "unknown error".into())).into()),
        }
    }

    /// Sends one request and returns its result as the type the API answers it with.
    pub fn call_as<T: DeserializeOwned>(&mut self, request: &Request) -> Result<T> {
        let value = self.call(request)?;
        serde_json::from_value(value).context("the node's answer does not have the expected form")
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

/// One request on a fresh connection, its answer typed.
pub fn call_as<T: DeserializeOwned>(path: &Path, request: &Request) -> Result<T> {
    Client::connect(path)?.call_as(request)
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixListener;

    use super::*;

    /// A one-shot node that answers whatever is asked with `answer`.
    fn answering(answer: &'static str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.sock");
        let listener = UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut line = String::new();
            BufReader::new(&stream).read_line(&mut line).unwrap();
            (&stream).write_all(answer.as_bytes()).unwrap();
        });
        (dir, path)
    }

    #[test]
    fn an_answer_of_another_api_version_is_refused() {
        let (_dir, path) = answering("{\"api\":2,\"ok\":true,\"result\":{\"notice\":\"alpha/1\"}}\n");
        let e = call(&path, &Request::Status {}).unwrap_err();
        assert!(e.to_string().contains("operator API version 2"), "{e}");
    }

    #[test]
    fn a_typed_answer_and_a_refusal() {
        let (_dir, path) = answering("{\"api\":1,\"ok\":true,\"result\":{\"notice\":\"alpha/1\"}}\n");
        let sent: crate::api::NoticeRef = call_as(&path, &Request::Status {}).unwrap();
        assert_eq!(sent.notice, "alpha/1");
        let (_dir, path) = answering("{\"api\":1,\"ok\":false,\"error\":\"no notice alpha/9\"}\n");
        let e = call(&path, &Request::Status {}).unwrap_err();
        assert!(e.downcast_ref::<Refused>().is_some_and(|r| r.0 == "no notice alpha/9"));
    }
}
