//! HTTP/1.1 on a blocking socket, with the standard library only: what the MCP endpoint needs
//! and nothing else, every read bounded in bytes and in time.
//!
//! * A request head is at most [`MAX_HEAD`] bytes and [`MAX_HEADERS`] fields, and must arrive
//!   whole within the request timeout (a client that trickles bytes — slowloris — is cut off
//!   at the deadline, not at each read's).
//! * A body is framed by `Content-Length` or `Transfer-Encoding: chunked`, never both, at most
//!   the caller's limit; anything ambiguous (two lengths, an unknown coding, a folded line, a
//!   control character) is refused with 400 and the connection closed, so no proxy in front can
//!   read the message differently.
//! * Writes carry a timeout: a client that stops reading loses its connection.
//! * A response is either whole (`Content-Length`) or a stream of chunks (server-sent events).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Longest request head (request line and header fields).
pub const MAX_HEAD: usize = 16 * 1024;
/// Most header fields in a request.
pub const MAX_HEADERS: usize = 64;
/// Longest chunk-size line or trailer line of a chunked body.
const MAX_CHUNK_LINE: usize = 1024;
/// How often a connection waiting for a request looks at the stop flag.
const IDLE_TICK: Duration = Duration::from_millis(250);

/// Why no request could be read.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The connection ended, or stayed idle, before a request began: close without a word.
    Closed,
    /// Answer with this status and reason, then close.
    Status(u16, &'static str),
}

/// How a request's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A request head. Its `Debug` hides credentials (`Authorization`, `Cookie` and the like), so
/// no log line or error built from it can show a key.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, as sent (methods are case-sensitive).
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// HTTP/1.0 rather than HTTP/1.1.
    pub http10: bool,
    /// Header fields in order; names in lower case, values trimmed.
    pub headers: Vec<(String, String)>,
    /// How the body is framed.
    pub body: Body,
    /// `Expect: 100-continue`.
    pub expects_continue: bool,
    /// The client lets the connection live on after the response.
    pub keep_alive: bool,
}

/// Header fields whose values are credentials.
const SECRET_FIELDS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
];

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                let shown = if SECRET_FIELDS.contains(&n.as_str()) {
                    "…"
                } else {
                    v.as_str()
                };
                (n.as_str(), shown)
            })
            .collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("http10", &self.http10)
            .field("headers", &headers)
            .field("body", &self.body)
            .field("expects_continue", &self.expects_continue)
            .field("keep_alive", &self.keep_alive)
            .finish()
    }
}

impl Request {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// How many times header `name` (lower case) appears.
    pub fn count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(n, _)| n == name).count()
    }

    /// Whether a body follows the head (which must be read, or the connection closed).
    pub fn has_body(&self) -> bool {
        !matches!(self.body, Body::Empty | Body::Length(0))
    }
}

/// A response with a whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Extra header fields.
    pub headers: Vec<(&'static str, String)>,
    /// `Content-Type`, when there is a body.
    pub content_type: Option<&'static str>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// An empty response.
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            content_type: None,
            body: Vec::new(),
        }
    }

    /// A JSON response.
    pub fn json(status: u16, body: String) -> Response {
        Response {
            status,
            headers: Vec::new(),
            content_type: Some("application/json"),
            body: body.into_bytes(),
        }
    }

    /// A plain-text response (a line ending is added).
    pub fn text(status: u16, text: &str) -> Response {
        Response {
            status,
            headers: Vec::new(),
            content_type: Some("text/plain; charset=utf-8"),
            body: format!("{text}\n").into_bytes(),
        }
    }

    /// Adds a header field.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}

/// The reason phrase of a status.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// One client connection.
pub struct Connection {
    stream: TcpStream,
    /// Bytes read past the last request (a pipelined next one).
    buf: Vec<u8>,
    /// The client's address.
    pub peer: SocketAddr,
    timeout: Duration,
    /// The response being written is a chunked stream.
    chunked: bool,
}

impl Connection {
    /// Wraps an accepted socket; `timeout` bounds each request's arrival and each write.
    pub fn new(stream: TcpStream, peer: SocketAddr, timeout: Duration) -> io::Result<Connection> {
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Connection {
            stream,
            buf: Vec::new(),
            peer,
            timeout,
            chunked: false,
        })
    }

    /// Reads the next request head. Waits up to the timeout for it to begin (checking `stop`),
    /// then up to the timeout again for the whole head; the deadline for the body is returned.
    pub fn read_head(&mut self, stop: &AtomicBool) -> Result<(Request, Instant), ReadError> {
        let idle_end = Instant::now() + self.timeout;
        while self.buf.is_empty() {
            if stop.load(Ordering::Acquire) {
                return Err(ReadError::Closed);
            }
            let now = Instant::now();
            if now >= idle_end {
                return Err(ReadError::Closed);
            }
            match self.fill((idle_end - now).min(IDLE_TICK)) {
                Ok(0) => return Err(ReadError::Closed),
                Ok(_) => {}
                Err(e) if timed_out(&e) => {}
                Err(_) => return Err(ReadError::Closed),
            }
        }
        let deadline = Instant::now() + self.timeout;
        loop {
            // Empty lines before a request line are ignored (RFC 9112 §2.2).
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                if end > MAX_HEAD {
                    return Err(ReadError::Status(431, "the request head is too large"));
                }
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                let request = parse_head(&head[..end])?;
                return Ok((request, deadline));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ReadError::Status(431, "the request head is too large"));
            }
            self.fill_before(deadline)?;
        }
    }

    /// Reads the body of `request` (at most `max` bytes) before `deadline`.
    pub fn read_body(
        &mut self,
        request: &Request,
        max: usize,
        deadline: Instant,
    ) -> Result<Vec<u8>, ReadError> {
        match request.body {
            Body::Empty => Ok(Vec::new()),
            Body::Length(n) => {
                let n = usize::try_from(n)
                    .ok()
                    .filter(|n| *n <= max)
                    .ok_or(ReadError::Status(413, "the request body is too large"))?;
                let mut body = Vec::with_capacity(n.min(64 * 1024));
                self.take_exact(&mut body, n, deadline)?;
                Ok(body)
            }
            Body::Chunked => self.read_chunked(max, deadline),
        }
    }

    fn read_chunked(&mut self, max: usize, deadline: Instant) -> Result<Vec<u8>, ReadError> {
        let mut body = Vec::new();
        loop {
            let size = chunk_size(&self.take_line(deadline)?)?;
            if size == 0 {
                // Trailer fields, ignored, up to the empty line; each must be a field line.
                let mut trailers = 0;
                loop {
                    let line = self.take_line(deadline)?;
                    if line.is_empty() {
                        return Ok(body);
                    }
                    trailers += 1;
                    if trailers > MAX_HEADERS {
                        return Err(ReadError::Status(431, "too many trailer fields"));
                    }
                    if !is_field_line(&line) {
                        return Err(ReadError::Status(400, "a malformed trailer field"));
                    }
                }
            }
            if body.len().checked_add(size).is_none_or(|total| total > max) {
                return Err(ReadError::Status(413, "the request body is too large"));
            }
            self.take_exact(&mut body, size, deadline)?;
            if !self.take_line(deadline)?.is_empty() {
                return Err(ReadError::Status(400, "a chunk is longer than its size"));
            }
        }
    }

    /// Appends exactly `n` bytes to `out`.
    fn take_exact(
        &mut self,
        out: &mut Vec<u8>,
        mut n: usize,
        deadline: Instant,
    ) -> Result<(), ReadError> {
        loop {
            let have = self.buf.len().min(n);
            out.extend(self.buf.drain(..have));
            n -= have;
            if n == 0 {
                return Ok(());
            }
            self.fill_before(deadline)?;
        }
    }

    /// One CRLF-terminated line (without the CRLF), at most [`MAX_CHUNK_LINE`] bytes.
    fn take_line(&mut self, deadline: Instant) -> Result<Vec<u8>, ReadError> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..end + 2).take(end).collect();
                return Ok(line);
            }
            if self.buf.len() > MAX_CHUNK_LINE {
                return Err(ReadError::Status(400, "a chunk line is too long"));
            }
            self.fill_before(deadline)?;
        }
    }

    fn fill_before(&mut self, deadline: Instant) -> Result<(), ReadError> {
        let now = Instant::now();
        if now >= deadline {
            return Err(ReadError::Status(
                408,
                "the request took too long to arrive",
            ));
        }
        match self.fill(deadline - now) {
            Ok(0) => Err(ReadError::Closed),
            Ok(_) => Ok(()),
            Err(e) if timed_out(&e) => Ok(()),
            Err(_) => Err(ReadError::Closed),
        }
    }

    /// One read of at most 16 KiB, waiting at most `wait`.
    fn fill(&mut self, wait: Duration) -> io::Result<usize> {
        self.stream
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// `100 Continue`, for a client that waits for it before sending the body.
    pub fn write_continue(&mut self) -> io::Result<()> {
        self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
    }

    /// Writes a whole response; `keep_alive` false announces the connection's end.
    pub fn write_response(
        &mut self,
        response: &Response,
        keep_alive: bool,
        head_only: bool,
    ) -> io::Result<()> {
        let mut out = status_line(response.status);
        for (name, value) in &response.headers {
            header(&mut out, name, value);
        }
        if let Some(content_type) = response.content_type {
            header(&mut out, "Content-Type", content_type);
        }
        // A 204 has no body, and says nothing about its length (RFC 9110 §8.6).
        if response.status != 204 {
            header(&mut out, "Content-Length", &response.body.len().to_string());
        }
        if !keep_alive {
            header(&mut out, "Connection", "close");
        }
        out.extend_from_slice(b"\r\n");
        if !head_only {
            out.extend_from_slice(&response.body);
        }
        self.stream.write_all(&out)?;
        self.stream.flush()
    }

    /// Starts a stream of server-sent events (chunked on HTTP/1.1, to the end of the
    /// connection on HTTP/1.0).
    pub fn start_events(
        &mut self,
        headers: &[(&'static str, String)],
        http10: bool,
    ) -> io::Result<()> {
        let mut out = status_line(200);
        header(&mut out, "Content-Type", "text/event-stream");
        header(&mut out, "Cache-Control", "no-cache, no-store");
        // nginx and friends would otherwise hold events back.
        header(&mut out, "X-Accel-Buffering", "no");
        for (name, value) in headers {
            header(&mut out, name, value);
        }
        if http10 {
            header(&mut out, "Connection", "close");
        } else {
            header(&mut out, "Transfer-Encoding", "chunked");
        }
        out.extend_from_slice(b"\r\n");
        self.chunked = !http10;
        self.stream.write_all(&out)?;
        self.stream.flush()
    }

    /// One event carrying a JSON-RPC message (which serde_json writes on one line).
    pub fn write_event(&mut self, message: &str) -> io::Result<()> {
        let event = format!("event: message\ndata: {message}\n\n");
        self.write_chunk(event.as_bytes())
    }

    /// An SSE comment: keeps proxies and clients from timing the stream out.
    pub fn write_comment(&mut self) -> io::Result<()> {
        self.write_chunk(b": keep-alive\n\n")
    }

    /// Ends the event stream (the connection may carry another request after it).
    pub fn end_events(&mut self) -> io::Result<()> {
        if self.chunked {
            self.chunked = false;
            self.stream.write_all(b"0\r\n\r\n")?;
        }
        self.stream.flush()
    }

    fn write_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        if self.chunked {
            let mut out = format!("{:x}\r\n", data.len()).into_bytes();
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
            self.stream.write_all(&out)?;
        } else {
            self.stream.write_all(data)?;
        }
        self.stream.flush()
    }

    /// Whether the client has closed its side (or the connection broke), without blocking.
    /// Bytes of a next request waiting to be read do not count.
    pub fn peer_closed(&self) -> bool {
        let fd = self.stream.as_raw_fd();
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
        if ready <= 0 {
            return false;
        }
        if pfd.revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
            return true;
        }
        let mut byte = 0u8;
        // SAFETY: a one-byte buffer we own; MSG_PEEK leaves the data in the socket.
        let n = unsafe {
            libc::recv(
                fd,
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        if n == 0 {
            return true;
        }
        if n < 0 {
            let e = io::Error::last_os_error();
            return !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            );
        }
        false
    }
}

fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn status_line(status: u16) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status)).into_bytes();
    header(&mut out, "Date", &http_date(SystemTime::now()));
    out
}

fn header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    // Values are ours; still, never let one end the head early.
    out.extend(value.bytes().filter(|b| *b != b'\r' && *b != b'\n'));
    out.extend_from_slice(b"\r\n");
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The size of a chunk from its line (`1*HEXDIG [BWS ";" extensions]`, RFC 9112 §7.1), read
/// strictly: no blank before the digits or after them unless an extension follows, no bare CR
/// or other control character anywhere (the extensions are not used, but a proxy in front may
/// read a line that a lax parser accepts differently), at most 8 significant digits.
fn chunk_size(line: &[u8]) -> Result<usize, ReadError> {
    const BAD: ReadError = ReadError::Status(400, "bad chunk size");
    if has_control(line) {
        return Err(BAD);
    }
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let (size, rest) = line.split_at(digits);
    let rest_ok = rest.is_empty()
        || rest
            .iter()
            .find(|&&b| b != b' ' && b != b'\t')
            .is_some_and(|&b| b == b';');
    let significant = size.iter().skip_while(|&&b| b == b'0').count();
    if digits == 0 || !rest_ok || significant > 8 {
        return Err(BAD);
    }
    let size = std::str::from_utf8(size).map_err(|_| BAD)?;
    usize::from_str_radix(size, 16).map_err(|_| BAD)
}

/// Whether `line` is a header (or trailer) field line: a token, a colon, a value without
/// control characters.
fn is_field_line(line: &[u8]) -> bool {
    line.iter()
        .position(|&b| b == b':')
        .is_some_and(|colon| is_token(&line[..colon]) && !has_control(&line[colon + 1..]))
}

/// Whether `bytes` hold a control character other than a tab (CR and LF included): never
/// part of a field value or a chunk line.
fn has_control(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
}

/// `tchar` of RFC 9110: what method and field names are made of.
fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The CRLF-separated lines of `head`.
fn split_lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(head);
    std::iter::from_fn(move || {
        let text = rest?;
        match find(text, b"\r\n") {
            Some(i) => {
                rest = Some(&text[i + 2..]);
                Some(&text[..i])
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    })
}

/// Parses a request head (without its final empty line).
pub fn parse_head(head: &[u8]) -> Result<Request, ReadError> {
    const BAD: ReadError = ReadError::Status(400, "malformed request");
    let mut lines = split_lines(head).map(|line| {
        if line.contains(&b'\r') || line.contains(&b'\n') {
            Err(ReadError::Status(400, "lines must end with CRLF"))
        } else {
            Ok(line)
        }
    });
    let request_line = lines.next().ok_or(BAD)??;
    let mut parts = request_line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BAD);
    };
    if !is_token(method) {
        return Err(BAD);
    }
    let http10 = match version {
        b"HTTP/1.1" => false,
        b"HTTP/1.0" => true,
        v if v.starts_with(b"HTTP/") => {
            return Err(ReadError::Status(
                505,
                "only HTTP/1.1 and HTTP/1.0 are served",
            ))
        }
        _ => return Err(BAD),
    };
    if target.is_empty() || target.iter().any(|b| !(0x21..0x7f).contains(b)) {
        return Err(BAD);
    }
    let target = std::str::from_utf8(target).map_err(|_| BAD)?;
    // Origin form (`/mcp?x`), or absolute form (`http://host/mcp`), which proxies may send.
    let path = if target.starts_with('/') {
        target
    } else if let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        rest.find('/').map_or("/", |i| &rest[i..])
    } else if target == "*" {
        "*"
    } else {
        return Err(BAD);
    };
    let path = path
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_string();

    let mut headers = Vec::new();
    for line in lines {
        let line = line?;
        if headers.len() >= MAX_HEADERS {
            return Err(ReadError::Status(431, "too many header fields"));
        }
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            return Err(ReadError::Status(
                400,
                "folded header lines are not accepted",
            ));
        }
        let colon = line.iter().position(|&b| b == b':').ok_or(BAD)?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if !is_token(name) {
            return Err(BAD);
        }
        if has_control(value) {
            return Err(ReadError::Status(
                400,
                "control characters in a header field",
            ));
        }
        let value = String::from_utf8_lossy(value)
            .trim_matches([' ', '\t'])
            .to_string();
        headers.push((String::from_utf8_lossy(name).to_ascii_lowercase(), value));
    }

    let mut request = Request {
        method: String::from_utf8_lossy(method).into_owned(),
        path,
        http10,
        headers,
        body: Body::Empty,
        expects_continue: false,
        keep_alive: false,
    };
    if request.count("host") > 1 {
        return Err(ReadError::Status(400, "more than one Host header"));
    }
    request.body = framing(&request)?;
    let connection = request
        .headers
        .iter()
        .filter(|(n, _)| n == "connection")
        .flat_map(|(_, v)| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect::<Vec<_>>();
    request.keep_alive = !http10 && !connection.iter().any(|t| t == "close");
    request.expects_continue = request
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
    Ok(request)
}

/// The body's framing, refusing every ambiguity (RFC 9112 §6.3).
fn framing(request: &Request) -> Result<Body, ReadError> {
    let codings: Vec<String> = request
        .headers
        .iter()
        .filter(|(n, _)| n == "transfer-encoding")
        .flat_map(|(_, v)| v.split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let lengths: Vec<&str> = request
        .headers
        .iter()
        .filter(|(n, _)| n == "content-length")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .collect();
    if request.count("transfer-encoding") > 0 {
        if !lengths.is_empty() {
            return Err(ReadError::Status(
                400,
                "both Transfer-Encoding and Content-Length",
            ));
        }
        if request.http10 {
            return Err(ReadError::Status(400, "Transfer-Encoding in HTTP/1.0"));
        }
        return match codings.as_slice() {
            [only] if only == "chunked" => Ok(Body::Chunked),
            _ => Err(ReadError::Status(
                501,
                "only the chunked transfer coding is served",
            )),
        };
    }
    let Some(first) = lengths.first() else {
        return Ok(Body::Empty);
    };
    if lengths.iter().any(|l| l != first)
        || first.is_empty()
        || first.len() > 19
        || !first.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(ReadError::Status(400, "bad Content-Length"));
    }
    let n: u64 = first
        .parse()
        .map_err(|_| ReadError::Status(400, "bad Content-Length"))?;
    Ok(if n == 0 { Body::Empty } else { Body::Length(n) })
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) for the `Date` header.
pub fn http_date(now: SystemTime) -> String {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Request, ReadError> {
        parse_head(text.as_bytes())
    }

    #[test]
    fn parses_a_request_head() {
        let r = head("POST /mcp?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nAuthorization:  Bearer k \r\nX-Empty:")
            .unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/mcp"));
        assert_eq!(r.body, Body::Length(5));
        assert_eq!(r.header("authorization"), Some("Bearer k"));
        assert_eq!(r.header("x-empty"), Some(""));
        assert!(r.keep_alive && !r.http10);
        let r = head("GET http://example.com/health HTTP/1.0").unwrap();
        assert_eq!(r.path, "/health");
        assert!(!r.keep_alive);
        let r =
            head("POST /mcp HTTP/1.1\r\nTransfer-Encoding: Chunked\r\nConnection: close").unwrap();
        assert_eq!(r.body, Body::Chunked);
        assert!(!r.keep_alive);
    }

    #[test]
    fn debug_never_shows_a_credential() {
        let r = head(
            "POST /mcp HTTP/1.1\r\nAuthorization: Bearer sekrit-key-0123456789\r\n\
             Proxy-Authorization: Basic c2Vrcml0\r\nCookie: sid=sekrit\r\nX-Trace: visible",
        )
        .unwrap();
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("sekrit") && !shown.contains("c2Vrcml0"),
            "{shown}"
        );
        assert!(
            shown.contains("authorization") && shown.contains("visible"),
            "{shown}"
        );
    }

    #[test]
    fn refuses_every_ambiguity() {
        let status = |t: &str| match head(t) {
            Err(ReadError::Status(s, _)) => s,
            other => panic!("{t:?}: {other:?}"),
        };
        assert_eq!(status("GET /mcp HTTP/2.0"), 505);
        assert_eq!(status("GET /mcp"), 400);
        assert_eq!(status("GET  /mcp HTTP/1.1"), 400);
        assert_eq!(status("G(T /mcp HTTP/1.1"), 400);
        assert_eq!(status("GET mcp HTTP/1.1"), 400);
        assert_eq!(status("GET /m\u{1}cp HTTP/1.1"), 400);
        assert_eq!(status("GET /mcp HTTP/1.1\nHost: a"), 400);
        assert_eq!(status("GET /mcp HTTP/1.1\r\nHost : a"), 400);
        assert_eq!(status("GET /mcp HTTP/1.1\r\nHost: a\r\n b"), 400);
        assert_eq!(status("GET /mcp HTTP/1.1\r\nNoColon"), 400);
        assert_eq!(status("GET /mcp HTTP/1.1\r\nX: a\u{0}b"), 400);
        assert_eq!(
            status("POST /mcp HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6"),
            400
        );
        assert_eq!(status("POST /mcp HTTP/1.1\r\nContent-Length: 5, 6"), 400);
        assert_eq!(status("POST /mcp HTTP/1.1\r\nContent-Length: +5"), 400);
        assert_eq!(
            status("POST /mcp HTTP/1.1\r\nContent-Length: 99999999999999999999"),
            400
        );
        assert_eq!(
            status("POST /mcp HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked"),
            400
        );
        assert_eq!(
            status("POST /mcp HTTP/1.1\r\nTransfer-Encoding: gzip, chunked"),
            501
        );
        assert_eq!(
            status("POST /mcp HTTP/1.0\r\nTransfer-Encoding: chunked"),
            400
        );
        assert_eq!(status("GET /mcp HTTP/1.1\r\nHost: a\r\nHost: b"), 400);
        let many = format!("GET / HTTP/1.1{}", "\r\nX: y".repeat(MAX_HEADERS + 1));
        assert_eq!(status(&many), 431);
        // Repeated equal lengths are one length.
        assert_eq!(
            head("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3")
                .unwrap()
                .body,
            Body::Length(3)
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_parser() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 200) as usize;
            let alphabet =
                b"GET POST /mcp HTTP/1.1\r\n:Content-Length: 0123456789chunked\t \x00\xff";
            let bytes: Vec<u8> = (0..len)
                .map(|i| alphabet[((x >> (i % 50)) as usize + i) % alphabet.len()])
                .collect();
            let _ = parse_head(&bytes);
        }
    }

    /// The status a server-side connection answers `bytes` with (0: a body was read).
    fn exchange(bytes: &[u8]) -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.write_all(bytes).unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let (stream, peer) = listener.accept().unwrap();
        let mut conn = Connection::new(stream, peer, Duration::from_secs(5)).unwrap();
        let stop = AtomicBool::new(false);
        let result = conn
            .read_head(&stop)
            .and_then(|(request, deadline)| conn.read_body(&request, 1 << 20, deadline));
        match result {
            Ok(_) => 0,
            Err(ReadError::Status(status, _)) => status,
            Err(ReadError::Closed) => 1,
        }
    }

    #[test]
    fn chunked_bodies_are_read_strictly() {
        let chunked = |body: &str| {
            exchange(
                format!("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{body}").as_bytes(),
            )
        };
        for good in [
            "5\r\nhello\r\n0\r\n\r\n",
            "5;name=value\r\nhello\r\n0\r\n\r\n",
            "5 ;ext\r\nhello\r\n0\r\n\r\n",
            "00000000005\r\nhello\r\n0\r\n\r\n",
            "5\r\nhello\r\n0\r\nX-Trailer: ok\r\n\r\n",
        ] {
            assert_eq!(chunked(good), 0, "{good:?}");
        }
        for (bad, status) in [
            (" 5\r\nhello\r\n0\r\n\r\n", 400),
            ("5 \r\nhello\r\n0\r\n\r\n", 400),
            ("\t5\r\nhello\r\n0\r\n\r\n", 400),
            ("5\rx\r\nhello\r\n0\r\n\r\n", 400),
            ("5;a=\"\rb\"\r\nhello\r\n0\r\n\r\n", 400),
            ("5\nhello\r\n0\r\n\r\n", 400),
            ("0x5\r\nhello\r\n0\r\n\r\n", 400),
            ("+5\r\nhello\r\n0\r\n\r\n", 400),
            ("ffffffffffffffff\r\n", 400),
            ("100000000\r\n", 400),
            ("5\r\nhelloXX0\r\n\r\n", 400),
            ("5\r\nhello\r\n0\r\nno colon here\r\n\r\n", 400),
            ("5\r\nhello\r\n0\r\nX: a\rb\r\n\r\n", 400),
            ("200000\r\n", 413),
        ] {
            assert_eq!(chunked(bad), status, "{bad:?}");
        }
    }

    #[test]
    fn dates_are_imf_fixdates() {
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(http_date(t), "Thu, 29 Feb 2024 12:34:56 GMT");
    }
}
