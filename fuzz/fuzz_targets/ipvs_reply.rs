//! Fuzz target for the IPVS reply decoder: any byte string either decodes
//! into netlink replies (and each IPVS message into a typed service,
//! destination or daemon) or yields a typed error; it must never panic.
//! Seeds: `fixtures/ipvs/*.hex` (requests, synthetic and kernel replies).
#![no_main]

use ipvs::message::{daemon_from_attrs, dest_from_attrs, service_from_attrs, CmdAttr};
use ipvs::wire::{decode_replies, ReplyBody};
use ipvs::Family;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first two bytes choose the family id the decoder treats as IPVS,
    // so both "ours" and "someone else's" message types are exercised.
    let (fam, buf) = match data {
        [a, b, rest @ ..] => (u16::from_ne_bytes([*a, *b]), rest),
        _ => return,
    };
    let Ok(replies) = decode_replies(buf, fam) else {
        return;
    };
    for r in replies {
        if let ReplyBody::Message(m) = r.body {
            for a in &m.attrs {
                match a {
                    CmdAttr::Service(s) => {
                        let _ = service_from_attrs(s);
                    }
                    CmdAttr::Dest(d) => {
                        let _ = dest_from_attrs(d, Family::Inet);
                        let _ = dest_from_attrs(d, Family::Inet6);
                    }
                    CmdAttr::Daemon(d) => {
                        let _ = daemon_from_attrs(d);
                    }
                    _ => {}
                }
            }
        }
    }
});
