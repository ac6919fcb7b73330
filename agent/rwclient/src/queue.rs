//! One shard's disk-backed queue: segment files of checksummed records (each a ready-to-send
//! snappy remote-write body), a persisted read cursor, and a size limit that drops the oldest.
//!
//! Record: `len u32 LE | samples u32 LE | crc32c(payload) u32 LE | payload`. Segments are
//! named `%08d.seg`; `cursor` holds `segment offset` of the next unsent record.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::Error;

const HEADER: usize = 12;
/// Largest record accepted when reading back (a corrupt length must not allocate gigabytes).
const MAX_RECORD: usize = 256 << 20;

/// A segment on disk.
#[derive(Debug)]
struct Segment {
    id: u64,
    bytes: u64,
    samples: u64,
}

/// Where the next unsent record starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// Segment id.
    pub segment: u64,
    /// Byte offset in it.
    pub offset: u64,
}

/// A record read from the queue, with the cursor just after it.
pub struct Record {
    /// The snappy-compressed WriteRequest.
    pub payload: Vec<u8>,
    /// Samples in it.
    pub samples: u64,
    /// The cursor to commit once it is delivered.
    pub next: Cursor,
}

struct State {
    segments: VecDeque<Segment>,
    writer: Option<File>,
    cursor: Cursor,
    stop: bool,
    /// Samples dropped because the size limit was reached.
    dropped_samples: u64,
    commits_since_save: u32,
}

/// One shard's queue.
pub struct Queue {
    dir: PathBuf,
    segment_bytes: u64,
    max_bytes: u64,
    state: Mutex<State>,
    wake: Condvar,
}

fn seg_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:08}.seg"))
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Reads the record header at `off`: (payload length, samples, crc).
fn header(f: &File, off: u64) -> Option<(usize, u64, u32)> {
    let mut h = [0u8; HEADER];
    f.read_exact_at(&mut h, off).ok()?;
    let len = u32::from_le_bytes(h[0..4].try_into().ok()?) as usize;
    let samples = u32::from_le_bytes(h[4..8].try_into().ok()?) as u64;
    let crc = u32::from_le_bytes(h[8..12].try_into().ok()?);
    (len <= MAX_RECORD).then_some((len, samples, crc))
}

/// Scans a segment: (valid bytes, samples); with `verify`, checksums every payload and
/// stops at the first bad record.
fn scan(path: &Path, verify: bool) -> Result<(u64, u64), Error> {
    let f = File::open(path).map_err(|e| io(path, e))?;
    let size = f.metadata().map_err(|e| io(path, e))?.len();
    let (mut off, mut samples) = (0u64, 0u64);
    let mut buf = Vec::new();
    while off + HEADER as u64 <= size {
        let Some((len, n, crc)) = header(&f, off) else {
            break;
        };
        let end = off + (HEADER + len) as u64;
        if end > size {
            break;
        }
        if verify {
            buf.resize(len, 0);
            if f.read_exact_at(&mut buf, off + HEADER as u64).is_err()
                || crc32c::crc32c(&buf) != crc
            {
                break;
            }
        }
        samples += n;
        off = end;
    }
    Ok((off, samples))
}

impl Queue {
    /// Opens (creating) the queue in `dir`: lists segments, cuts a torn last record, reads
    /// the cursor.
    pub fn open(dir: &Path, segment_bytes: u64, max_bytes: u64) -> Result<Queue, Error> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let mut ids: Vec<u64> = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".seg")?
                    .parse::<u64>()
                    .ok()
            })
            .collect();
        ids.sort_unstable();
        let mut segments = VecDeque::new();
        for (i, &id) in ids.iter().enumerate() {
            let path = seg_path(dir, id);
            let last = i + 1 == ids.len();
            let (bytes, samples) = scan(&path, last)?;
            if last {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| io(&path, e))?;
                f.set_len(bytes).map_err(|e| io(&path, e))?;
            }
            segments.push_back(Segment { id, bytes, samples });
        }
        let cursor = std::fs::read_to_string(dir.join("cursor"))
            .ok()
            .and_then(|s| {
                let mut it = s.split_ascii_whitespace();
                Some(Cursor {
                    segment: it.next()?.parse().ok()?,
                    offset: it.next()?.parse().ok()?,
                })
            })
            .filter(|c| {
                segments
                    .iter()
                    .any(|s| s.id == c.segment && c.offset <= s.bytes)
            })
            .unwrap_or(Cursor {
                segment: segments.front().map_or(1, |s| s.id),
                offset: 0,
            });
        Ok(Queue {
            dir: dir.to_path_buf(),
            segment_bytes: segment_bytes.max(1),
            max_bytes,
            state: Mutex::new(State {
                segments,
                writer: None,
                cursor,
                stop: false,
                dropped_samples: 0,
                commits_since_save: 0,
            }),
            wake: Condvar::new(),
        })
    }

    /// Appends one record (written to the OS before returning) and applies the size limit.
    pub fn append(&self, payload: &[u8], samples: u64) -> Result<(), Error> {
        let mut st = self.state.lock();
        let need_new = match st.segments.back() {
            None => true,
            Some(s) => s.bytes >= self.segment_bytes,
        };
        if need_new || st.writer.is_none() {
            let id = if need_new {
                st.segments.back().map_or(1, |s| s.id + 1)
            } else {
                st.segments.back().map_or(1, |s| s.id)
            };
            let path = seg_path(&self.dir, id);
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| io(&path, e))?;
            if need_new {
                st.segments.push_back(Segment {
                    id,
                    bytes: 0,
                    samples: 0,
                });
            }
            st.writer = Some(f);
        }
        let mut rec = Vec::with_capacity(HEADER + payload.len());
        rec.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        rec.extend_from_slice(&(samples as u32).to_le_bytes());
        rec.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
        rec.extend_from_slice(payload);
        let id = st.segments.back().map_or(1, |s| s.id);
        if let Some(w) = st.writer.as_mut() {
            w.write_all(&rec)
                .map_err(|e| io(&seg_path(&self.dir, id), e))?;
        }
        if let Some(s) = st.segments.back_mut() {
            s.bytes += rec.len() as u64;
            s.samples += samples;
        }
        self.enforce_limit(&mut st);
        drop(st);
        self.wake.notify_all();
        Ok(())
    }

    /// Drops whole oldest segments while the queue is over its size limit (keeping the one
    /// being written), counting the unsent samples they held.
    fn enforce_limit(&self, st: &mut State) {
        if self.max_bytes == 0 {
            return;
        }
        let (mut dropped, mut freed) = (0u64, 0u64);
        while st.segments.iter().map(|s| s.bytes).sum::<u64>() > self.max_bytes
            && st.segments.len() > 1
        {
            let Some(s) = st.segments.pop_front() else {
                break;
            };
            let unsent = if st.cursor.segment > s.id {
                0
            } else if st.cursor.segment == s.id && st.cursor.offset > 0 {
                // Part of it was sent: count only the rest.
                let f = File::open(seg_path(&self.dir, s.id)).ok();
                let mut off = st.cursor.offset;
                let mut n = 0;
                while let Some((len, k, _)) = f.as_ref().and_then(|f| header(f, off)) {
                    n += k;
                    off += (HEADER + len) as u64;
                }
                n
            } else {
                s.samples
            };
            dropped += unsent;
            freed += s.bytes;
            let _ = std::fs::remove_file(seg_path(&self.dir, s.id));
            if st.cursor.segment <= s.id {
                st.cursor = Cursor {
                    segment: st.segments.front().map_or(s.id + 1, |n| n.id),
                    offset: 0,
                };
            }
        }
        if freed > 0 {
            st.dropped_samples += dropped;
            tracing::warn!(
                dropped_samples = dropped,
                freed_bytes = freed,
                limit_bytes = self.max_bytes,
                dir = %self.dir.display(),
                "remote-write disk buffer full: dropped the oldest unsent samples"
            );
        }
    }

    /// The next unsent record, waiting up to `wait` for one; `None` when there is none yet
    /// or the queue is stopping.
    pub fn next(&self, wait: Duration) -> Result<Option<Record>, Error> {
        let mut st = self.state.lock();
        loop {
            if st.stop {
                return Ok(None);
            }
            // Skip past finished segments (deleting them once they are not written to).
            while let Some(front) = st.segments.front() {
                let cur = st.cursor;
                if cur.segment < front.id {
                    st.cursor = Cursor {
                        segment: front.id,
                        offset: 0,
                    };
                    continue;
                }
                if cur.segment == front.id && cur.offset >= front.bytes && st.segments.len() > 1 {
                    let id = front.id;
                    st.segments.pop_front();
                    let _ = std::fs::remove_file(seg_path(&self.dir, id));
                    st.cursor = Cursor {
                        segment: st.segments.front().map_or(id + 1, |s| s.id),
                        offset: 0,
                    };
                    continue;
                }
                break;
            }
            let cur = st.cursor;
            let avail = st
                .segments
                .iter()
                .find(|s| s.id == cur.segment)
                .is_some_and(|s| cur.offset < s.bytes);
            if avail {
                let path = seg_path(&self.dir, cur.segment);
                let f = File::open(&path).map_err(|e| io(&path, e))?;
                let corrupt = |detail: &str| Error::Corrupt {
                    path: path.clone(),
                    offset: cur.offset,
                    detail: detail.to_string(),
                };
                let (len, samples, crc) =
                    header(&f, cur.offset).ok_or_else(|| corrupt("bad header"))?;
                let mut payload = vec![0u8; len];
                f.read_exact_at(&mut payload, cur.offset + HEADER as u64)
                    .map_err(|e| io(&path, e))?;
                if crc32c::crc32c(&payload) != crc {
                    return Err(corrupt("checksum mismatch"));
                }
                return Ok(Some(Record {
                    payload,
                    samples,
                    next: Cursor {
                        segment: cur.segment,
                        offset: cur.offset + (HEADER + len) as u64,
                    },
                }));
            }
            if self.wake.wait_for(&mut st, wait).timed_out() {
                return Ok(None);
            }
        }
    }

    /// Marks everything before `next` as delivered; the cursor is saved every few commits
    /// and on [`Queue::save`].
    pub fn commit(&self, next: Cursor) {
        let mut st = self.state.lock();
        if (next.segment, next.offset) > (st.cursor.segment, st.cursor.offset) {
            st.cursor = next;
        }
        st.commits_since_save += 1;
        if st.commits_since_save >= 16 {
            st.commits_since_save = 0;
            self.save_locked(&st);
        }
    }

    /// Skips a record that could not be read (corruption): moves to the next segment.
    pub fn skip_segment(&self) {
        let mut st = self.state.lock();
        let seg = st.cursor.segment;
        if let Some(s) = st.segments.iter().find(|s| s.id == seg) {
            st.cursor.offset = s.bytes;
        }
        if st.segments.back().is_some_and(|s| s.id == seg) {
            // The corrupt segment is the one being written: start a new one.
            st.writer = None;
            let id = seg + 1;
            st.segments.push_back(Segment {
                id,
                bytes: 0,
                samples: 0,
            });
        }
    }

    /// Writes the cursor file (temporary file + rename).
    pub fn save(&self) {
        let st = self.state.lock();
        self.save_locked(&st);
    }

    fn save_locked(&self, st: &State) {
        let tmp = self.dir.join("cursor.tmp");
        let text = format!("{} {}\n", st.cursor.segment, st.cursor.offset);
        let res =
            std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, self.dir.join("cursor")));
        if let Err(e) = res {
            tracing::error!(error = %e, dir = %self.dir.display(), "saving the remote-write cursor failed");
        }
    }

    /// Wakes and stops readers.
    pub fn stop(&self) {
        self.state.lock().stop = true;
        self.wake.notify_all();
    }

    /// Bytes on disk not yet delivered (whole segments; the partly sent one counted fully).
    pub fn pending_bytes(&self) -> u64 {
        let st = self.state.lock();
        st.segments
            .iter()
            .filter(|s| s.id >= st.cursor.segment)
            .map(|s| s.bytes)
            .sum::<u64>()
            .saturating_sub(st.cursor.offset)
    }

    /// Samples dropped because of the size limit.
    pub fn dropped_samples(&self) -> u64 {
        self.state.lock().dropped_samples
    }
}
