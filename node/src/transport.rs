//! QUIC between nodes: TLS 1.3 only, RFC 7250 raw public keys pinned to the roster in both
//! directions, one unidirectional stream per protocol frame, size-limited before allocation.
//!
//! * The server side accepts a client only if the client's raw key is a roster member; the client
//!   side accepts a server only if its raw key is the member it meant to reach. A key outside the
//!   roster never gets a connection, and a member cannot pose as another (identity *is* the key).
//! * Of each pair of members, the one with the smaller key dials and keeps the connection up
//!   (reconnecting with backoff); the other accepts. So there is one connection per pair.
//! * Every frame travels on its own unidirectional stream whose priority is the frame's
//!   precedence, so a FLASH frame is not queued behind ROUTINE traffic on the same connection.
//!   A stream longer than the protocol's frame limit is cut off at the limit.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use ed25519_dalek::SigningKey;
use hotline_proto::limits::MAX_FRAME;
use hotline_proto::{NodeId, Precedence, Roster};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls13_signature_with_raw_key, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName, SubjectPublicKeyInfoDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, Error as TlsError, SignatureScheme};
use tokio::sync::{mpsc, Semaphore};

use crate::gate::Gate;
use crate::sendq::{Pushed, SendQueue};

/// The ALPN protocol id: protocol version 1.
pub const ALPN: &[u8] = b"cbm-hotline/1";

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the key's 32 bytes follow.
const SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// Concurrent incoming streams per connection: bounds the memory a peer can pin.
const MAX_STREAMS: u32 = 64;
/// Outgoing frames in flight at once to one peer (its incoming-stream limit): a peer that stalls
/// (partitioned, overloaded) cannot take the sending capacity of the others.
const MAX_SENDS_PER_PEER: usize = MAX_STREAMS as usize;
/// Frames waiting to be sent to one peer, most urgent first; beyond this, the least urgent are
/// dropped (retransmission recovers them) so that memory stays bounded whatever a peer does.
const SEND_QUEUE: usize = 256;
/// How long one frame may take to be handed to QUIC and acknowledged by the peer's QUIC stack.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a peer may take to deliver one frame's stream.
const STREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// A dial whose handshake has not completed in this long is abandoned and started afresh. Under
/// heavy loss a handshake can stall for the whole idle timeout as its probe timer backs off
/// (1, 2, 4, 8 s); a fresh Initial restarts that timer, so the link comes up sooner.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(4);

/// An accepted handshake not done in this long is abandoned and its slot freed: a member on a
/// working link completes one in a few round trips, so only a stalled or hostile one takes longer.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Incoming connection attempts quinn holds at once before the accept loop decides on them; more
/// are refused by quinn itself. Each may buffer this many bytes of early packets, all of them
/// together at most the total.
const MAX_INCOMING: usize = 256;
const INCOMING_BUFFER: u64 = 16 * 1024;
const INCOMING_BUFFER_TOTAL: u64 = 1024 * 1024;

/// Application close code: the peer opened a newer connection, which replaces this one.
const CLOSE_REPLACED: u32 = 3;
/// Application close code: no frame arrived on this connection for the link silence time.
const CLOSE_SILENT: u32 = 4;

/// The raw public key "certificate" of a node: its SubjectPublicKeyInfo.
pub fn spki(id: &NodeId) -> Vec<u8> {
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(&id.0);
    der
}

/// The node id in a raw public key, if it is an Ed25519 one.
pub fn node_from_spki(der: &[u8]) -> Option<NodeId> {
    let key = der.strip_prefix(&SPKI_PREFIX[..])?;
    Some(NodeId(key.try_into().ok()?))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn algorithms() -> WebPkiSupportedAlgorithms {
    rustls::crypto::ring::default_provider().signature_verification_algorithms
}

fn verify_raw(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
    algs: &WebPkiSupportedAlgorithms,
) -> Result<HandshakeSignatureValid, TlsError> {
    verify_tls13_signature_with_raw_key(message, &SubjectPublicKeyInfoDer::from(cert.as_ref()), dss, algs)
}

/// The handshake methods both verifiers share: TLS 1.3 only, Ed25519 raw public keys only.
macro_rules! raw_key_handshake {
    () => {
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, TlsError> {
            Err(TlsError::PeerIncompatible(rustls::PeerIncompatible::Tls12NotOffered))
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, TlsError> {
            verify_raw(message, cert, dss, &self.algs)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            vec![SignatureScheme::ED25519]
        }

        fn requires_raw_public_keys(&self) -> bool {
            true
        }
    };
}

/// Server side: the client must present the raw key of a roster member (other than this node).
#[derive(Debug)]
struct RosterClientVerifier {
    members: Vec<NodeId>,
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for RosterClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: UnixTime,
    ) -> Result<ClientCertVerified, TlsError> {
        match node_from_spki(end_entity.as_ref()) {
            Some(id) if self.members.contains(&id) => Ok(ClientCertVerified::assertion()),
            _ => Err(TlsError::InvalidCertificate(rustls::CertificateError::UnknownIssuer)),
        }
    }

    raw_key_handshake!();
}

/// Client side: the server must present exactly the raw key of the member we dialled.
#[derive(Debug)]
struct PinnedServerVerifier {
    expected: NodeId,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        if node_from_spki(end_entity.as_ref()) == Some(self.expected) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(TlsError::InvalidCertificate(rustls::CertificateError::UnknownIssuer))
        }
    }

    raw_key_handshake!();
}

fn certified_key(key: &SigningKey) -> Result<Arc<CertifiedKey>> {
    let der = crate::keys::pkcs8_der(key)?;
    let signer = rustls::crypto::ring::sign::any_eddsa_type(&PrivatePkcs8KeyDer::from(der))
        .map_err(|e| anyhow!("loading the key into TLS: {e}"))?;
    let id = hotline_proto::crypto::node_id(key);
    Ok(Arc::new(CertifiedKey::new(vec![CertificateDer::from(spki(&id))], signer)))
}

fn transport_config() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.max_concurrent_uni_streams(MAX_STREAMS.into());
    t.max_concurrent_bidi_streams(0u32.into());
    t.keep_alive_interval(Some(Duration::from_secs(1)));
    t.max_idle_timeout(Some(
        Duration::from_secs(12)
            .try_into()
            .unwrap_or(quinn::IdleTimeout::from(quinn::VarInt::from_u32(12_000))),
    ));
    t.stream_receive_window(quinn::VarInt::from_u32(u32::try_from(2 * MAX_FRAME).unwrap_or(u32::MAX)));
    Arc::new(t)
}

/// A secret derived from the node's signing key for one purpose (`label`): one-way and
/// domain-separated, so it tells nothing about the signing key or the other derived secrets.
fn derived(key: &SigningKey, label: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"cbm-hotline/1 ");
    h.update(label.as_bytes());
    h.update([0]);
    h.update(key.to_bytes());
    h.finalize().into()
}

/// The key of the node's stateless resets (RFC 9000 §10.3), derived from its signing key so that
/// it survives a restart, as does the key that makes its connection ids recognisable. A node that
/// crashed and came back has forgotten its connections; when a peer's next packet on one of them
/// arrives, the node recognises the connection id as its own and answers with a stateless reset
/// that the peer accepts (its token was issued under the same key); the peer drops the dead
/// connection and dials again at once, instead of waiting for the idle timeout (spec §14).
struct ResetKey([u8; 32]);

impl ResetKey {
    fn of(key: &SigningKey) -> ResetKey {
        ResetKey(derived(key, "stateless reset key"))
    }

    /// HMAC-SHA-256 (RFC 2104) under this key.
    fn mac(&self, data: &[u8]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.0);
        let pad = |byte: u8| block.map(|b| b ^ byte);
        let inner = Sha256::new().chain_update(pad(0x36)).chain_update(data).finalize();
        Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
    }
}

impl quinn::crypto::HmacKey for ResetKey {
    fn sign(&self, data: &[u8], out: &mut [u8]) {
        let mac = self.mac(data);
        let n = out.len().min(mac.len());
        out[..n].copy_from_slice(&mac[..n]);
    }

    fn signature_len(&self) -> usize {
        32
    }

    fn verify(&self, data: &[u8], signature: &[u8]) -> Result<(), quinn::crypto::CryptoError> {
        let mac = self.mac(data);
        // Constant time in the content: every byte is compared.
        let differs = signature.len() != mac.len()
            || signature.iter().zip(mac.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) != 0;
        if differs {
            Err(quinn::crypto::CryptoError)
        } else {
            Ok(())
        }
    }
}

/// The QUIC server configuration of a node: its raw key, and roster members only as clients.
pub fn server_config(key: &SigningKey, roster: &Roster) -> Result<quinn::ServerConfig> {
    let me = hotline_proto::crypto::node_id(key);
    let members = roster.members.iter().map(|m| m.key).filter(|k| *k != me).collect();
    let verifier = Arc::new(RosterClientVerifier { members, algs: algorithms() });
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(rustls::server::AlwaysResolvesServerRawPublicKeys::new(certified_key(
            key,
        )?)));
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(tls)?));
    config.transport_config(transport_config());
    config.max_incoming(MAX_INCOMING);
    config.incoming_buffer_size(INCOMING_BUFFER);
    config.incoming_buffer_size_total(INCOMING_BUFFER_TOTAL);
    Ok(config)
}

/// The QUIC client configuration for dialling `peer`, pinned to its key.
pub fn client_config(key: &SigningKey, peer: NodeId) -> Result<quinn::ClientConfig> {
    let verifier = Arc::new(PinnedServerVerifier { expected: peer, algs: algorithms() });
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_cert_resolver(Arc::new(rustls::client::AlwaysResolvesClientRawPublicKeys::new(
            certified_key(key)?,
        )));
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let mut config = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls)?));
    config.transport_config(transport_config());
    Ok(config)
}

/// The roster member at the other end of an established connection.
pub fn peer_of(conn: &quinn::Connection) -> Option<NodeId> {
    let identity = conn.peer_identity()?;
    let certs = identity.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    node_from_spki(certs.first()?.as_ref())
}

/// What the transport tells the node.
#[derive(Debug)]
pub enum Inbound {
    /// A frame (or, if longer than the limit, its first `MAX_FRAME + 1` bytes) from a peer.
    Frame(NodeId, Vec<u8>),
    /// A connection to the peer was established.
    Connected(NodeId),
}

/// The running transport of one node.
#[derive(Clone)]
pub struct Transport {
    endpoint: quinn::Endpoint,
    conns: Arc<Mutex<HashMap<NodeId, quinn::Connection>>>,
    sends: Arc<HashMap<NodeId, Arc<SendQueue>>>,
    /// A connection on which no frame has arrived for this long is closed (and re-dialled): the
    /// roster's `link_silence_ms`, within which a live peer sends at least one link test.
    silence: Duration,
}

/// How long a stopping node waits for its connections to close.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(300);

impl Transport {
    /// Binds `listen` and starts accepting and dialling (at `overrides[name]` instead of the
    /// roster's addresses where given). Frames and connection events go to `tx`.
    pub fn start(
        key: &SigningKey,
        roster: &Roster,
        listen: SocketAddr,
        overrides: &std::collections::BTreeMap<String, String>,
        tx: mpsc::Sender<Inbound>,
    ) -> Result<Transport> {
        let socket = std::net::UdpSocket::bind(listen).map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => anyhow::anyhow!(
                "UDP {listen} is already in use (another node or program listens there): stop it, or give this node another port in config.toml's `listen` (for a testnet: `hotline testnet init DIR --base-port N` with a free range)"
            ),
            _ => anyhow::Error::new(e).context(format!("binding UDP {listen}")),
        })?;
        let mut endpoint_config = quinn::EndpointConfig::new(Arc::new(ResetKey::of(key)));
        let cid_key = u64::from_le_bytes(derived(key, "connection id key")[..8].try_into().unwrap_or([0; 8]));
        endpoint_config
            .cid_generator(move || Box::new(quinn_proto::HashedConnectionIdGenerator::from_key(cid_key)));
        let endpoint = quinn::Endpoint::new(
            endpoint_config,
            Some(server_config(key, roster)?),
            socket,
            Arc::new(quinn::TokioRuntime),
        )
        .with_context(|| format!("starting QUIC on {listen}"))?;
        let mut sends = HashMap::new();
        let mut queues = Vec::new();
        for member in &roster.members {
            let queue = Arc::new(SendQueue::new(SEND_QUEUE));
            sends.insert(member.key, queue.clone());
            queues.push((member.key, queue));
        }
        let silence = Duration::from_millis(roster.policy.link_silence_ms);
        let transport = Transport { endpoint, conns: Arc::default(), sends: Arc::new(sends), silence };
        for (peer, rx) in queues {
            tokio::spawn(transport.clone().sender(peer, rx));
        }
        let me = hotline_proto::crypto::node_id(key);
        let member_ips = roster
            .members
            .iter()
            .filter(|m| m.key != me)
            .flat_map(|m| &m.addresses)
            .chain(overrides.values())
            .filter_map(|a| a.parse::<SocketAddr>().ok())
            .map(|a| a.ip());
        tokio::spawn(transport.clone().accept_loop(Gate::new(member_ips), tx.clone()));
        for member in roster.members.iter().filter(|m| m.key > me) {
            let config = client_config(key, member.key)?;
            let addresses: Vec<String> = match overrides.get(&member.name) {
                Some(address) => vec![address.clone()],
                None => member.addresses.clone(),
            };
            tokio::spawn(transport.clone().dial_loop(
                member.key,
                member.name.clone(),
                addresses,
                config,
                tx.clone(),
            ));
        }
        Ok(transport)
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.endpoint.local_addr()?)
    }

    /// Accepts connections through the admission [`Gate`]: a source whose address QUIC has not
    /// validated gets a stateless Retry (a packet smaller than its Initial, and no state kept); a
    /// validated one needs a slot, holds it for at most [`ACCEPT_TIMEOUT`], and is then either a
    /// roster member or closed.
    async fn accept_loop(self, gate: Gate, tx: mpsc::Sender<Inbound>) {
        let mut reports = tokio::time::interval(crate::gate::REPORT_EVERY);
        loop {
            let incoming = tokio::select! {
                incoming = self.endpoint.accept() => match incoming {
                    Some(incoming) => incoming,
                    None => return,
                },
                _ = reports.tick() => {
                    if let Some(report) = gate.report(Instant::now()) {
                        tracing::warn!("{report}");
                    }
                    continue;
                }
            };
            let now = Instant::now();
            if !incoming.remote_address_validated() {
                if incoming.may_retry() {
                    gate.retried();
                    if let Err(e) = incoming.retry() {
                        tracing::debug!(error = %e, "could not send a Retry");
                    }
                } else {
                    // It carried a Retry token that did not validate: forged or expired.
                    gate.failed();
                    incoming.ignore();
                }
                continue;
            }
            let source = incoming.remote_address();
            let slot = match gate.admit(source.ip(), now) {
                Ok(slot) => slot,
                Err(refusal) => {
                    tracing::debug!(%source, ?refusal, "incoming handshake refused");
                    incoming.refuse();
                    continue;
                }
            };
            let this = self.clone();
            let tx = tx.clone();
            let gate = gate.clone();
            tokio::spawn(async move {
                let handshake = tokio::time::timeout(ACCEPT_TIMEOUT, incoming).await;
                drop(slot);
                match handshake {
                    Ok(Ok(conn)) => match peer_of(&conn) {
                        Some(peer) => {
                            tracing::info!(peer = %peer.short(), addr = %conn.remote_address(), "accepted");
                            let reason = this.serve(peer, conn, tx).await;
                            tracing::info!(peer = %peer.short(), %reason, "accepted connection closed");
                        }
                        None => conn.close(1u32.into(), b"no identity"),
                    },
                    Ok(Err(e)) => {
                        gate.failed();
                        tracing::debug!(%source, error = %e, "refused an incoming connection");
                    }
                    Err(_) => {
                        gate.failed();
                        tracing::debug!(%source, "incoming handshake timed out");
                    }
                }
            });
        }
    }

    async fn dial_loop(
        self,
        peer: NodeId,
        name: String,
        addresses: Vec<String>,
        config: quinn::ClientConfig,
        tx: mpsc::Sender<Inbound>,
    ) {
        let mut backoff = Duration::from_millis(200);
        loop {
            for address in &addresses {
                let Ok(addr) = address.parse::<SocketAddr>() else {
                    tracing::warn!(%address, peer = %name, "not an ip:port address; skipped");
                    continue;
                };
                let attempt = self.endpoint.connect_with(config.clone(), addr, "peer.cbm-hotline.invalid");
                match attempt {
                    Ok(connecting) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting).await {
                        Err(_) => {
                            tracing::debug!(peer = %name, %addr, "handshake timed out; dialling afresh")
                        }
                        Ok(Ok(conn)) => {
                            backoff = Duration::from_millis(200);
                            tracing::info!(peer = %name, %addr, "connected");
                            let reason = self.clone().serve(peer, conn, tx.clone()).await;
                            tracing::info!(peer = %name, %reason, "connection closed");
                            break;
                        }
                        Ok(Err(e)) => tracing::debug!(peer = %name, %addr, error = %e, "connection failed"),
                    },
                    Err(e) => tracing::warn!(peer = %name, %addr, error = %e, "cannot dial"),
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// Registers a connection and reads frames from it until it closes, or until no frame has
    /// arrived on it for the link silence time. A connection can stall while QUIC still carries
    /// packets (a probe timer backed off under loss, stream credit not returned); a fresh one
    /// starts from a clean slate, so the silent one is closed and the dialler dials again.
    /// Returns why the connection closed, for the log.
    async fn serve(self, peer: NodeId, conn: quinn::Connection, tx: mpsc::Sender<Inbound>) -> String {
        let replaced = self.conns.lock().ok().and_then(|mut conns| conns.insert(peer, conn.clone()));
        if let Some(old) = replaced.filter(|old| old.stable_id() != conn.stable_id()) {
            // The peer restarted or re-dialled: frames still stuck on the old connection fail now
            // (freeing their sending slots) rather than at its idle timeout.
            tracing::info!(peer = %peer.short(), "a newer connection from this member replaces the older one");
            old.close(CLOSE_REPLACED.into(), b"replaced by a newer connection");
        }
        if tx.send(Inbound::Connected(peer)).await.is_err() {
            conn.close(0u32.into(), b"node stopping");
            return "the node is stopping".into();
        }
        let heard = Arc::new(Mutex::new(Instant::now()));
        let mut check = tokio::time::interval((self.silence / 4).max(Duration::from_millis(100)));
        loop {
            tokio::select! {
                accepted = conn.accept_uni() => {
                    let Ok(stream) = accepted else { break };
                    tokio::spawn(receive(peer, stream, tx.clone(), heard.clone()));
                }
                _ = check.tick() => {
                    let quiet = heard.lock().map_or(Duration::ZERO, |h| h.elapsed());
                    if quiet >= self.silence {
                        tracing::info!(
                            peer = %peer.short(),
                            quiet_ms = quiet.as_millis() as u64,
                            "no frame on this connection for the link silence time; closing it for a fresh one"
                        );
                        conn.close(CLOSE_SILENT.into(), b"silent");
                        break;
                    }
                }
            }
        }
        if let Ok(mut conns) = self.conns.lock() {
            if conns.get(&peer).is_some_and(|c| c.stable_id() == conn.stable_id()) {
                conns.remove(&peer);
            }
        }
        conn.close_reason().map_or_else(|| "closed here".into(), |e| e.to_string())
    }

    /// Sends a frame to a peer on a new stream at the frame's precedence. Without a connection
    /// the frame is dropped: the protocol retransmits until it is receipted.
    pub fn send(&self, peer: NodeId, precedence: Precedence, frame: Vec<u8>) {
        let Some(queue) = self.sends.get(&peer) else { return };
        match queue.push(precedence, frame) {
            Pushed::Queued => {}
            Pushed::AlreadyPending => {
                tracing::trace!(peer = %peer.short(), "the same frame is still being sent; not queued twice")
            }
            Pushed::QueuedDroppingAnother | Pushed::Refused => {
                tracing::debug!(peer = %peer.short(), "send queue to this peer full; a frame left to retransmission")
            }
        }
    }

    /// Drains one peer's send queue: up to [`MAX_SENDS_PER_PEER`] frames in flight, each on its
    /// own stream, each given [`SEND_TIMEOUT`] until the peer's QUIC stack has acknowledged all of
    /// it. Frames for a peer without a connection are dropped (retransmission recovers them).
    async fn sender(self, peer: NodeId, queue: Arc<SendQueue>) {
        let limit = Arc::new(Semaphore::new(MAX_SENDS_PER_PEER));
        loop {
            // A sending slot first, then the most urgent frame: one that came while this waited
            // for a slot goes ahead of older, less urgent ones.
            let Ok(permit) = limit.clone().acquire_owned().await else { return };
            let (precedence, key, frame) = queue.pop().await;
            let conn = self.conns.lock().ok().and_then(|c| c.get(&peer).cloned());
            let Some(conn) = conn else {
                queue.done(key);
                tracing::trace!(peer = %peer.short(), "no connection; frame left to retransmission");
                continue;
            };
            let queue = queue.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let result = tokio::time::timeout(SEND_TIMEOUT, async {
                    let mut stream = conn.open_uni().await?;
                    stream.set_priority(priority(precedence))?;
                    stream.write_all(&frame).await?;
                    stream.finish()?;
                    // Pending (so not queued again) until the peer's QUIC has all of it.
                    match stream.stopped().await? {
                        None => anyhow::Ok(()),
                        Some(code) => Err(anyhow!("the peer stopped the stream ({code})")),
                    }
                });
                let result = result.await;
                queue.done(key);
                match result {
                    Ok(Ok(())) => tracing::trace!(peer = %peer.short(), "frame delivered"),
                    Ok(Err(e)) => tracing::debug!(peer = %peer.short(), error = %e, "frame not delivered"),
                    Err(_) => tracing::debug!(peer = %peer.short(), "frame not delivered in time"),
                }
            });
        }
    }

    /// Closes every connection and the endpoint.
    /// Closes every connection and gives the peers a moment to hear it. Not longer: a dial to a
    /// peer that is down would hold `wait_idle` until its handshake timed out, and a node asked to
    /// stop must stop (it took 3-8 s with a peer down); a peer that misses the close finds out by
    /// its idle timeout.
    pub async fn shutdown(&self) {
        self.endpoint.close(0u32.into(), b"shutdown");
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, self.endpoint.wait_idle()).await;
    }
}

/// Reads one frame from a stream and hands it to the node. The stream is released first, so the
/// peer gets its stream credit back even while the node is busy.
async fn receive(
    peer: NodeId,
    mut stream: quinn::RecvStream,
    tx: mpsc::Sender<Inbound>,
    heard: Arc<Mutex<Instant>>,
) {
    match tokio::time::timeout(STREAM_TIMEOUT, read_frame(&mut stream)).await {
        Ok(Some(bytes)) => {
            drop(stream);
            if let Ok(mut h) = heard.lock() {
                *h = Instant::now();
            }
            let _ = tx.send(Inbound::Frame(peer, bytes)).await;
        }
        Ok(None) => {}
        Err(_) => {
            let _ = stream.stop(2u32.into());
        }
    }
}

/// Stream priority of a precedence: FLASH highest.
pub fn priority(precedence: Precedence) -> i32 {
    // quinn sends higher priorities first; FLASH (rank 0) gets the highest.
    let lowest = Precedence::ALL.len() - 1;
    i32::try_from(lowest - precedence.rank()).unwrap_or(0)
}

/// Reads one frame: the whole stream, or its first `MAX_FRAME + 1` bytes if it is longer (the
/// protocol core then refuses it as too large). `None` if the stream failed.
async fn read_frame(stream: &mut quinn::RecvStream) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.read_chunk(MAX_FRAME + 1 - bytes.len(), true).await.ok()? {
        bytes.extend_from_slice(&chunk.bytes);
        if bytes.len() > MAX_FRAME {
            let _ = stream.stop(1u32.into());
            break;
        }
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_key_is_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe" (zero-padded to 32 bytes is the same HMAC key).
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let mac = ResetKey(key).mac(b"what do ya want for nothing?");
        assert_eq!(
            hotline_proto::hex::encode(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        use quinn::crypto::HmacKey;
        let k = ResetKey::of(&crate::keys::generate());
        let mut sig = [0u8; 32];
        k.sign(b"cid", &mut sig);
        assert!(k.verify(b"cid", &sig).is_ok());
        sig[0] ^= 1;
        assert!(k.verify(b"cid", &sig).is_err());
        assert!(k.verify(b"cid", &sig[..16]).is_err());
    }

    /// Two keys, the dialling one (smaller) first, and their roster with `link_silence_ms`.
    fn pair(silence_ms: u64) -> (SigningKey, SigningKey, Roster) {
        let mut keys = [crate::keys::generate(), crate::keys::generate()];
        keys.sort_by_key(hotline_proto::crypto::node_id);
        let [dialler, acceptor] = keys;
        let member = |name: &str, k: &SigningKey| hotline_proto::Member {
            name: name.into(),
            key: hotline_proto::crypto::node_id(k),
            addresses: vec![],
            languages: vec![],
        };
        let roster = Roster {
            format: hotline_proto::ROSTER_FORMAT,
            network: "transport-test".into(),
            members: vec![member("dialler", &dialler), member("acceptor", &acceptor)],
            policy: hotline_proto::Policy {
                heartbeat_interval_ms: silence_ms / 4,
                link_silence_ms: silence_ms,
                ..Default::default()
            },
        };
        (dialler, acceptor, roster)
    }

    /// Starts the accepting member; its inbound events, and its address for the dialler.
    fn acceptor(key: &SigningKey, roster: &Roster) -> (Transport, mpsc::Receiver<Inbound>, SocketAddr) {
        let (tx, rx) = mpsc::channel(64);
        let t =
            Transport::start(key, roster, "127.0.0.1:0".parse().unwrap(), &Default::default(), tx).unwrap();
        let addr = t.local_addr().unwrap();
        (t, rx, addr)
    }

    /// Waits (at most 5 s) for the next `Connected` from `peer`, skipping frames.
    async fn next_connected(rx: &mut mpsc::Receiver<Inbound>, peer: NodeId) -> bool {
        let wait = async {
            while let Some(inbound) = rx.recv().await {
                if matches!(inbound, Inbound::Connected(p) if p == peer) {
                    return true;
                }
            }
            false
        };
        tokio::time::timeout(Duration::from_secs(5), wait).await.unwrap_or(false)
    }

    #[tokio::test]
    async fn a_silent_connection_is_closed_and_dialled_afresh_a_live_one_is_kept() {
        let (d, a, roster) = pair(600);
        let (acceptor, mut rx, addr) = acceptor(&a, &roster);
        let overrides = [("acceptor".to_string(), addr.to_string())].into();
        let (dtx, _drx) = mpsc::channel(64);
        let dialler = Transport::start(&d, &roster, "127.0.0.1:0".parse().unwrap(), &overrides, dtx).unwrap();
        let d_id = hotline_proto::crypto::node_id(&d);
        assert!(next_connected(&mut rx, d_id).await, "first connection");
        // Keep-alives flow, but no frame does: after the link silence time the connection is
        // closed and the dialler dials again.
        assert!(next_connected(&mut rx, d_id).await, "the silent connection was not replaced");
        // A frame each way every 100 ms (as link tests do) keeps the connection: no new one
        // within three silence times.
        let a_id = hotline_proto::crypto::node_id(&a);
        let keep = tokio::spawn(async move {
            for i in 0..40u32 {
                dialler.send(a_id, Precedence::Routine, i.to_be_bytes().to_vec());
                acceptor.send(d_id, Precedence::Routine, i.to_be_bytes().to_vec());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let again = tokio::time::timeout(Duration::from_millis(1800), next_connected(&mut rx, d_id)).await;
        assert!(!matches!(again, Ok(true)), "a live connection was closed");
        keep.abort();
    }

    #[tokio::test]
    async fn a_newer_connection_from_a_member_replaces_the_older_at_once() {
        let (d, a, roster) = pair(60_000);
        let (_acceptor, mut rx, addr) = acceptor(&a, &roster);
        let d_id = hotline_proto::crypto::node_id(&d);
        let a_id = hotline_proto::crypto::node_id(&a);
        // The dialler as a bare QUIC client, twice: as if it restarted without closing the first.
        let mut conns = Vec::new();
        for _ in 0..2 {
            let client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
            let config = client_config(&d, a_id).unwrap();
            let conn = client.connect_with(config, addr, "peer.cbm-hotline.invalid").unwrap().await.unwrap();
            assert!(next_connected(&mut rx, d_id).await);
            conns.push((client, conn));
        }
        let closed = tokio::time::timeout(Duration::from_secs(3), conns[0].1.closed()).await;
        match closed {
            Ok(quinn::ConnectionError::ApplicationClosed(close)) => {
                assert_eq!(close.error_code, CLOSE_REPLACED.into())
            }
            other => panic!("the older connection was not closed as replaced: {other:?}"),
        }
        assert!(conns[1].1.close_reason().is_none(), "the newer connection stays");
    }

    #[test]
    fn spki_round_trip() {
        let id = NodeId([7; 32]);
        let der = spki(&id);
        assert_eq!(der.len(), 44);
        assert_eq!(node_from_spki(&der), Some(id));
        assert_eq!(node_from_spki(&der[1..]), None);
    }
}
