//! Compaction: every live, unexpired record re-encrypted under the next generation's key into a
//! new file image, which the writer puts in place of the old one (temp file, fsync, rename,
//! directory fsync). Wiped frames, commits and expired entries are left behind.

use std::sync::Arc;

use ring::hmac;

use crate::crypto::KeyBytes;
use crate::frame::{self, GenKeys, FRAME_HEADER};
use crate::header::{Header, HEADER_LEN};
use crate::index::{Entry, State};
use crate::Error;

/// The next generation of a store, ready to be written.
pub(crate) struct NextGeneration {
    pub header: Header,
    /// The whole file: header, every live record, one commit.
    pub bytes: Vec<u8>,
    /// The index as it will be once the file is in place.
    pub state: State,
}

/// Builds the next generation from what the index holds now (`now` decides expiry).
pub(crate) fn next_generation(
    header: &Header,
    master: &KeyBytes,
    header_mac: &hmac::Key,
    current: &State,
    now: u64,
) -> Result<NextGeneration, Error> {
    let mut header = header.clone();
    header.generation += 1;
    let gen = GenKeys::new(master, header.file_id, header.generation);
    let mut bytes = header.encode(header_mac).to_vec();
    let mut entries = Vec::new();
    for (sandbox, m) in &current.sandboxes {
        for (tag, e) in m {
            if e.expired(now) {
                continue;
            }
            let pt = current
                .gen
                .open_body(e.offset, e.len, &e.body)
                .ok_or_else(|| {
                    Error::integrity("an in-memory record failed authentication", Some(e.offset))
                })?;
            let offset = bytes.len() as u64;
            let sealed = gen.seal_frame(offset, &pt)?;
            entries.push((
                sandbox.as_str(),
                *tag,
                Entry {
                    offset,
                    len: sealed.len() as u32,
                    alias: e.alias,
                    expires_at: e.expires_at,
                    body: Arc::from(&sealed[FRAME_HEADER..]),
                },
            ));
            bytes.extend_from_slice(&sealed);
        }
    }
    // Always a commit, even with no records: a compacted file always starts with one whole
    // batch, which the walk then refuses to treat as a torn tail.
    let commit = gen.seal_frame(
        bytes.len() as u64,
        &frame::encode_commit(HEADER_LEN as u64, &[]),
    )?;
    bytes.extend_from_slice(&commit);
    let mut state = State::new(gen, bytes.len() as u64);
    for (sandbox, tag, e) in entries {
        state.put(sandbox, tag, Some(e));
    }
    Ok(NextGeneration {
        header,
        bytes,
        state,
    })
}
