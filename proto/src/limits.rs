//! Hard limits on everything that comes from outside (spec §8). A value past a limit is refused
//! before it can cost memory or time.

/// Largest frame a node accepts or sends, in bytes. Read before allocation by the transport.
pub const MAX_FRAME: usize = 63 * 1024;
/// Largest log entry (entry bytes plus signature), in bytes: a frame plus its log envelope. Fits
/// the 16-bit length prefix of a C2SP `tlog-tiles` entry bundle.
pub const MAX_LOG_ENTRY: usize = 65_535;
/// Hashes in one Merkle proof: two per tree level of a log of up to 2^64 leaves.
pub const MAX_PROOF: usize = 128;
/// Largest roster encoding, in bytes.
pub const MAX_ROSTER: usize = 256 * 1024;
/// Members in a roster: enough for every member state of the United Nations (193).
pub const MAX_MEMBERS: usize = 256;
/// Addressees of one notice (action plus information).
pub const MAX_ADDRESSEES: usize = MAX_MEMBERS - 1;
/// Bytes in a member name, network name, operator name or other short identifier.
pub const MAX_NAME: usize = 64;
/// Bytes in a language tag (BCP 47).
pub const MAX_LANG: usize = 35;
/// Language versions of one text.
pub const MAX_LANGS: usize = 8;
/// Bytes in one language version of a text field.
pub const MAX_TEXT: usize = 8 * 1024;
/// Bytes in one language version of a text field of a FLASH or IMMEDIATE notice: such texts stay
/// short so that they can be read, translated and answered at once.
pub const MAX_SHORT_TEXT: usize = 1024;
/// Bytes in a short free-text field (point of contact, location region, media type, ...).
pub const MAX_SHORT: usize = 256;
/// Failure modes named by one incident.
pub const MAX_FAILURE_MODES: usize = 10;
/// Attachments (by hash) of one notice.
pub const MAX_ATTACHMENTS: usize = 16;
/// Network addresses of one member.
pub const MAX_ADDRESSES: usize = 8;
/// Entries in a codebook.
pub const MAX_CODEBOOK: usize = 1024;
/// Largest sequence number (sender or per-link): 2^53 − 1, exact in every JSON reader.
pub const MAX_SEQ: u64 = (1 << 53) - 1;
