//! The benchmarks' HTTP client: one keep-alive connection that sends each request the way the
//! trainers' Python clients do (`requests`, through urllib3 and `http.client`): the head in one
//! write, the body in one more, with `TCP_NODELAY`.
//!
//! How a client writes matters to the server's CPU, which is what `bench io` charges: ureq 2,
//! used here before, copies a body through `std::io::copy`'s 8 KiB buffer, so a 256-sample
//! format batch (~85 KB) reached the server in eleven writes, each waking its event loop for a
//! part of the body. The same server, the two clients' `bench io` run one after the other
//! (2026-12-06): format batches 0.67x `grade` per CPU-second with ureq, 0.80x with this client
//! (math 0.90 / 0.94, IFEval 0.90 / 0.95), and a single format request 46 / 21 µs of server CPU.
//! Hand-written (~100 lines) because the point is the exact write pattern, which a general
//! client does not promise.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context};

/// How long a request may take before the benchmark gives up on it.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Answers larger than this are refused (a benchmark's largest is a few MB).
const MAX_ANSWER_BYTES: usize = 256 << 20;

/// A keep-alive HTTP/1.1 connection to one `http://host:port` server.
pub(crate) struct BenchClient {
    host: String,
    connection: Option<BufReader<TcpStream>>,
}

impl BenchClient {
    /// A client of `url` (`http://host:port`); it connects on the first request.
    pub(crate) fn new(url: &str) -> anyhow::Result<BenchClient> {
        let host = url
            .strip_prefix("http://")
            .with_context(|| format!("not an http:// URL: {url}"))?
            .trim_end_matches('/')
            .to_string();
        Ok(BenchClient {
            host,
            connection: None,
        })
    }

    /// POSTs `body` as JSON to `path`; the status and the answer's body. A connection the
    /// server closed while idle is opened again once.
    pub(crate) fn post_json(&mut self, path: &str, body: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            self.host,
            body.len()
        );
        let reused = self.connection.is_some();
        match self.exchange(&head, body) {
            Err(_) if reused => {
                self.connection = None;
                self.exchange(&head, body)
            }
            answer => answer,
        }
    }

    fn exchange(&mut self, head: &str, body: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        let answer = self.try_exchange(head, body);
        if answer.is_err() {
            self.connection = None;
        }
        answer
    }

    fn try_exchange(&mut self, head: &str, body: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        if self.connection.is_none() {
            let stream = TcpStream::connect(&self.host)
                .with_context(|| format!("cannot connect to {}", self.host))?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(TIMEOUT))?;
            stream.set_write_timeout(Some(TIMEOUT))?;
            self.connection = Some(BufReader::with_capacity(64 << 10, stream));
        }
        let reader = self.connection.as_mut().expect("connected above");
        reader.get_mut().write_all(head.as_bytes())?;
        reader.get_mut().write_all(body.as_bytes())?;

        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            bail!("the server closed the connection");
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .with_context(|| format!("not an HTTP status line: {line:?}"))?;
        let (mut length, mut closes) = (None, false);
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                bail!("the server closed the connection in the answer's head");
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().context("bad Content-Length")?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!("chunked answers are not supported by the benchmark's client");
            } else if name.eq_ignore_ascii_case("connection") {
                closes = value.eq_ignore_ascii_case("close");
            }
        }
        let length = length.context("an answer without Content-Length")?;
        anyhow::ensure!(length <= MAX_ANSWER_BYTES, "an answer of {length} bytes");
        let mut answer = vec![0; length];
        reader.read_exact(&mut answer)?;
        if closes {
            self.connection = None;
        }
        Ok((status, answer))
    }
}
