//! Netlink framing of IPVS requests and replies: a request is a
//! `NetlinkMessage<GenlMessage<IpvsMessage>>`; a receive buffer is split into
//! replies (acks, errors, dump parts, done) with every length checked, so any
//! byte string decodes to replies or a typed [`DecodeError`].

use netlink_packet_core::{NetlinkBuffer, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN};
use netlink_packet_generic::{GenlFamily, GenlHeader};

use crate::error::DecodeError;
use crate::message::IpvsMessage;

/// `nlmsghdr` size.
const NLMSG_HDRLEN: usize = 16;
/// `genlmsghdr` size.
const GENL_HDRLEN: usize = 4;

/// Serialises one request. `flags` are `NLM_F_*` (REQUEST is added).
pub fn encode_request(msg: IpvsMessage, family_id: u16, seq: u32, flags: u16) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_request_into(&mut buf, msg, family_id, seq, flags);
    buf
}

/// Appends one request to `out`, serialised in place: a window of requests
/// is built in one buffer without a temporary per request. The two headers
/// are written here and the attributes appended in one pass
/// ([`IpvsMessage::append_attrs`]): going through `GenlMessage` /
/// `NetlinkMessage` finalize and serialize recomputed the nested attribute
/// lengths over and over, and under qemu TCG the 11,000 requests of a start
/// cost ~85 ms that way.
pub fn encode_request_into(
    out: &mut Vec<u8>,
    msg: IpvsMessage,
    family_id: u16,
    seq: u32,
    flags: u16,
) {
    let start = out.len();
    // struct nlmsghdr: len (set below), type, flags, seq, pid (0: the kernel).
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(&family_id.to_ne_bytes());
    out.extend_from_slice(&(flags | netlink_packet_core::NLM_F_REQUEST).to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    // struct genlmsghdr: cmd, version, reserved.
    out.extend_from_slice(&[msg.command(), msg.version(), 0, 0]);
    msg.append_attrs(out);
    let len = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

/// What one netlink message of a reply says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyBody {
    /// `NLMSG_ERROR` with code 0.
    Ack,
    /// `NLMSG_ERROR` with a (positive) errno.
    Error(i32),
    /// `NLMSG_DONE`: end of a dump; carries the dump's error, if any.
    Done(i32),
    /// An IPVS message (a dump part or a GET reply).
    Message(IpvsMessage),
    /// `NLMSG_NOOP`, `NLMSG_OVERRUN`, or another family's message.
    Other(u16),
}

/// One netlink message of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub seq: u32,
    /// `NLM_F_*` flags (MULTI, DUMP_INTR, ...).
    pub flags: u16,
    pub body: ReplyBody,
}

fn read_i32(b: &[u8]) -> i32 {
    match b {
        [a, b, c, d, ..] => i32::from_ne_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

/// What one netlink message of a reply says, the IPVS body left undecoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawBody<'a> {
    Ack,
    Error(i32),
    Done(i32),
    /// An IPVS message: its genl command and its attributes, as received.
    Message {
        cmd: u8,
        attrs: &'a [u8],
    },
    Other(u16),
}

/// One netlink message of a reply, borrowing the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawReply<'a> {
    pub seq: u32,
    pub flags: u16,
    pub body: RawBody<'a>,
}

/// Splits a receive buffer into replies. Messages of family `family_id` are
/// decoded as IPVS messages.
pub fn decode_replies(buf: &[u8], family_id: u16) -> Result<Vec<Reply>, DecodeError> {
    split_replies(buf, family_id)?
        .into_iter()
        .map(|r| {
            Ok(Reply {
                seq: r.seq,
                flags: r.flags,
                body: match r.body {
                    RawBody::Ack => ReplyBody::Ack,
                    RawBody::Error(e) => ReplyBody::Error(e),
                    RawBody::Done(e) => ReplyBody::Done(e),
                    RawBody::Message { cmd, attrs } => {
                        ReplyBody::Message(IpvsMessage::decode(cmd, attrs)?)
                    }
                    RawBody::Other(t) => ReplyBody::Other(t),
                },
            })
        })
        .collect()
}

/// Splits a receive buffer into replies without decoding IPVS bodies, so a
/// caller that needs a few attributes (a table read skips the counters)
/// allocates nothing per attribute. Every length is checked.
pub fn split_replies(buf: &[u8], family_id: u16) -> Result<Vec<RawReply<'_>>, DecodeError> {
    let mut out = Vec::new();
    let mut off = 0usize;
    while off < buf.len() {
        let rest = &buf[off..];
        let truncated = |need: usize| DecodeError::Truncated {
            what: "netlink message",
            offset: off,
            need,
            have: rest.len(),
        };
        if rest.len() < NLMSG_HDRLEN {
            return Err(truncated(NLMSG_HDRLEN));
        }
        let nl = NetlinkBuffer::new(rest);
        let len = nl.length() as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(truncated(len.max(NLMSG_HDRLEN)));
        }
        // Safe now: new_checked repeats exactly the checks above.
        let nl = NetlinkBuffer::new_checked(&rest[..len])
            .map_err(|e| DecodeError::Netlink(e.to_string()))?;
        let payload = &rest[NLMSG_HDRLEN..len];
        let body = match nl.message_type() {
            NLMSG_ERROR => {
                if payload.len() < 4 {
                    return Err(DecodeError::Truncated {
                        what: "netlink error message",
                        offset: off + NLMSG_HDRLEN,
                        need: 4,
                        have: payload.len(),
                    });
                }
                match read_i32(payload) {
                    0 => RawBody::Ack,
                    code => RawBody::Error(code.checked_neg().unwrap_or(i32::MAX)),
                }
            }
            NLMSG_DONE => RawBody::Done(read_i32(payload).checked_neg().unwrap_or(i32::MAX)),
            NLMSG_NOOP | NLMSG_OVERRUN => RawBody::Other(nl.message_type()),
            t if t == family_id => {
                if payload.len() < GENL_HDRLEN {
                    return Err(DecodeError::Truncated {
                        what: "generic netlink header",
                        offset: off + NLMSG_HDRLEN,
                        need: GENL_HDRLEN,
                        have: payload.len(),
                    });
                }
                let hdr =
                    GenlHeader::parse(payload).map_err(|e| DecodeError::Netlink(e.to_string()))?;
                RawBody::Message {
                    cmd: hdr.cmd,
                    attrs: &payload[GENL_HDRLEN..],
                }
            }
            t => RawBody::Other(t),
        };
        out.push(RawReply {
            seq: nl.sequence_number(),
            flags: nl.flags(),
            body,
        });
        // Messages are aligned to 4 bytes.
        off += (len + 3) & !3;
    }
    Ok(out)
}
