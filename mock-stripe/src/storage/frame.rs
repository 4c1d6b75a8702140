//! How records sit in a file: `length (u32 LE) | CRC-32 of the payload (u32 LE) | payload`.
//!
//! Reading tells three cases apart: a whole, intact record; the end of the file cut short
//! inside a record (a write the process died in: "torn"); and a record whose bytes are all
//! there but wrong (corruption, never a crash of ours).

use std::io::{self, Write};

/// Larger records are refused when written and taken for corruption when read.
pub(crate) const MAX_RECORD: usize = 1 << 30;

const HEADER: usize = 8;

/// Appends one framed record to `out`, in one write (a process killed mid-record leaves
/// the file as it was or with the whole record).
pub(crate) fn write(out: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    out.write_all(&encode(payload)?)
}

/// One framed record.
pub(crate) fn encode(payload: &[u8]) -> io::Result<Vec<u8>> {
    if payload.len() > MAX_RECORD {
        return Err(io::Error::other(format!(
            "a journal record of {} bytes is over the {MAX_RECORD}-byte limit",
            payload.len()
        )));
    }
    let mut framed = Vec::with_capacity(HEADER + payload.len());
    framed.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    framed.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    framed.extend_from_slice(payload);
    Ok(framed)
}

/// What reading a file's records found.
#[derive(Debug)]
pub(crate) struct Records<'a> {
    /// Every intact record, in order.
    pub records: Vec<&'a [u8]>,
    /// Where the intact records end.
    pub valid_len: usize,
    pub ending: Ending,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The last record ends where the file ends.
    Clean,
    /// The file ends inside a record (a header or payload cut short), at `valid_len`.
    Torn,
    /// The record at `valid_len` is whole but its checksum or length is wrong.
    Corrupt(String),
}

/// Splits `bytes` into records.
pub(crate) fn read(bytes: &[u8]) -> Records<'_> {
    let mut records = Vec::new();
    let mut at = 0;
    let ending = loop {
        let rest = &bytes[at..];
        if rest.is_empty() {
            break Ending::Clean;
        }
        if rest.len() < HEADER {
            break Ending::Torn;
        }
        let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        if len > MAX_RECORD {
            break Ending::Corrupt(format!("a record claims {len} bytes"));
        }
        let Some(payload) = rest.get(HEADER..HEADER + len) else {
            break Ending::Torn;
        };
        if crc32fast::hash(payload) != crc {
            // A machine that stops mid-write can leave the last record's length on disk
            // and not all of its bytes (zeros): that is a torn tail too. Anywhere else a
            // wrong checksum is corruption.
            if HEADER + len == rest.len() {
                break Ending::Torn;
            }
            break Ending::Corrupt("a record's checksum does not match".into());
        }
        records.push(payload);
        at += HEADER + len;
    };
    Records {
        records,
        valid_len: at,
        ending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            write(&mut out, p).unwrap();
        }
        out
    }

    #[test]
    fn reads_back_what_was_written() {
        let bytes = framed(&[b"one", b"", b"three"]);
        let r = read(&bytes);
        assert_eq!(r.records, [&b"one"[..], b"", b"three"]);
        assert_eq!(r.ending, Ending::Clean);
        assert_eq!(r.valid_len, bytes.len());
    }

    #[test]
    fn a_file_cut_anywhere_inside_the_last_record_is_torn() {
        let bytes = framed(&[b"first", b"second record"]);
        let first_len = 8 + 5;
        for cut in first_len + 1..bytes.len() {
            let r = read(&bytes[..cut]);
            assert_eq!(r.records, [&b"first"[..]], "cut at {cut}");
            assert_eq!(r.ending, Ending::Torn, "cut at {cut}");
            assert_eq!(r.valid_len, first_len);
        }
    }

    #[test]
    fn a_flipped_byte_before_the_end_is_corruption() {
        let mut bytes = framed(&[b"first", b"second"]);
        bytes[9] ^= 1;
        let r = read(&bytes);
        assert!(r.records.is_empty());
        assert!(matches!(r.ending, Ending::Corrupt(_)), "{:?}", r.ending);
    }

    #[test]
    fn a_last_record_whose_bytes_did_not_reach_the_disk_is_torn() {
        let mut bytes = framed(&[b"first", b"second"]);
        let n = bytes.len();
        bytes[n - 6..].fill(0);
        let r = read(&bytes);
        assert_eq!(r.records, [&b"first"[..]]);
        assert_eq!(r.ending, Ending::Torn);
    }

    #[test]
    fn an_absurd_length_is_corruption_not_an_allocation() {
        let mut bytes = framed(&[b"x"]);
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        assert!(matches!(read(&bytes).ending, Ending::Corrupt(_)));
    }
}
