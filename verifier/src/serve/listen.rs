//! The accept loop: HTTP/1.1 connections served by hyper with a header read timeout (a client
//! that has begun a request and stalls gets `408` and the connection is closed; an idle
//! keep-alive connection is closed quietly), the same bound on a client that stops reading its
//! answer (the connection is dropped with what it was sending), graceful shutdown bounded by the drain timeout, and
//! each request tagged with its peer address (axum's `ConnectInfo`), and each client's share
//! of the open connections (see `client_slots`; one more is closed as it is accepted).
//! axum's own `serve` offers none of these bounds, so this replaces it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use super::client_slots::{ClientConnection, ClientSlots};

/// The answer to a client that began a request and did not finish its headers in time.
const HEADER_TIMEOUT_RESPONSE: &[u8] = b"HTTP/1.1 408 Request Timeout\r\n\
    content-type: application/json\r\nconnection: close\r\ncontent-length: 55\r\n\r\n\
    {\"error\":\"the request headers did not arrive in time\"}\n";

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets open
/// connections finish until `drain_until` completes, and returns (dropping whatever is left).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    read_timeout: Duration,
    clients: Arc<ClientSlots>,
    shutdown: impl Future<Output = ()>,
    drain_until: impl FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>>,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(held) = clients.try_open_connection(peer.ip()) else {
            // Closed unread: the client learns at its next write or read.
            tracing::debug!(%peer, "connection refused: the client holds its share of connections, or the service all it may");
            drop(stream);
            continue;
        };
        if let Err(error) = serve_connection(stream, peer, &app, read_timeout, &graceful, held) {
            tracing::warn!(%error, "cannot serve a connection");
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections finished"),
        () = drain_until() => tracing::warn!("drain timeout: closing the connections left"),
    }
}

fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: &Router,
    read_timeout: Duration,
    graceful: &GracefulShutdown,
    held: ClientConnection,
) -> io::Result<()> {
    // A second handle on the socket, to answer 408 after hyper gives up on the headers (hyper
    // closes such a connection without a word).
    let std_stream = stream.into_std()?;
    let spare = std_stream.try_clone()?;
    let stream = TcpStream::from_std(std_stream)?;
    let counters = Arc::new(Counters::default());
    let io = TokioIo::new(Counted {
        inner: stream,
        counters: counters.clone(),
        write_timeout: read_timeout,
        write_stall: None,
    });
    // Handlers learn the peer address as axum's `ConnectInfo` (per-client request slots).
    let service = TowerToHyperService::new(app.clone().map_request(
        move |mut request: axum::extract::Request<_>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        },
    ));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(read_timeout);
    let connection = graceful.watch(builder.serve_connection(io, service));
    tokio::spawn(async move {
        let _held = held;
        if let Err(error) = connection.await {
            if error.is_timeout() && counters.request_begun() {
                use std::io::Write;
                // The socket is non-blocking and its send buffer empty: this small write
                // either goes out whole or not at all.
                let _ = (&spare).write_all(HEADER_TIMEOUT_RESPONSE);
            }
            let _ = spare.shutdown(std::net::Shutdown::Both);
        }
    });
    Ok(())
}

/// Bytes read, and bytes read when the last response bytes were written: if more have been
/// read since, a request has begun.
#[derive(Default)]
struct Counters {
    read: AtomicU64,
    read_at_last_write: AtomicU64,
}

impl Counters {
    fn request_begun(&self) -> bool {
        self.read.load(Ordering::Relaxed) > self.read_at_last_write.load(Ordering::Relaxed)
    }
}

struct Counted {
    inner: TcpStream,
    counters: Arc<Counters>,
    /// How long a write may wait for the client to read before the connection is dropped.
    write_timeout: Duration,
    /// Armed while a write waits on the client. A client that stops reading its answer held
    /// that answer in memory for as long as it liked (a 96 MB `/run_code` answer for a 100-byte
    /// request, held past its request slot: 4 GB from one client, red team); hyper has no write
    /// timeout of its own.
    write_stall: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Counted {
    /// `polled`, unless the write has waited on the client longer than `write_timeout`: then
    /// an error, which ends the connection and frees what it was sending.
    fn watch_stall<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.write_stall = None;
            return polled;
        }
        let timeout = self.write_timeout;
        let stall = self
            .write_stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if stall.as_mut().poll(cx).is_ready() {
            self.write_stall = None;
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading its answer",
            )));
        }
        Poll::Pending
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = (buf.filled().len() - before) as u64;
        self.counters.read.fetch_add(read, Ordering::Relaxed);
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let read = self.counters.read.load(Ordering::Relaxed);
        self.counters
            .read_at_last_write
            .store(read, Ordering::Relaxed);
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch_stall(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let read = self.counters.read.load(Ordering::Relaxed);
        self.counters
            .read_at_last_write
            .store(read, Ordering::Relaxed);
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch_stall(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch_stall(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_header_timeout_response_declares_its_body_length() {
        let text = std::str::from_utf8(super::HEADER_TIMEOUT_RESPONSE).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 408 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
    }
}
