//! `meta.json` of a block and block ids (ULIDs).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A block's metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockMeta {
    /// The block's id (26-character ULID), also its directory name.
    pub ulid: String,
    /// First timestamp covered (ms, inclusive).
    pub min_time: i64,
    /// End of the covered range (ms, exclusive).
    pub max_time: i64,
    /// Samples in the block.
    pub num_samples: u64,
    /// Series in the block.
    pub num_series: u64,
    /// Chunks in the block.
    pub num_chunks: u64,
    /// 1 for blocks cut from the head, +1 per compaction.
    pub level: u32,
    /// Ids of the blocks this one was compacted from.
    pub sources: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaJson {
    ulid: String,
    min_time: i64,
    max_time: i64,
    stats: StatsJson,
    compaction: CompactionJson,
    version: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatsJson {
    num_samples: u64,
    num_series: u64,
    num_chunks: u64,
}

#[derive(Serialize, Deserialize)]
struct CompactionJson {
    level: u32,
    #[serde(default)]
    sources: Vec<String>,
}

impl BlockMeta {
    /// Reads `dir/meta.json`.
    pub fn read(dir: &Path) -> Result<BlockMeta, Error> {
        let path = dir.join("meta.json");
        let b = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let m: MetaJson = serde_json::from_slice(&b).map_err(|e| Error::Corrupt {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        if m.version != 1 {
            return Err(Error::Corrupt {
                path,
                detail: format!("unsupported meta version {}", m.version),
            });
        }
        Ok(BlockMeta {
            ulid: m.ulid,
            min_time: m.min_time,
            max_time: m.max_time,
            num_samples: m.stats.num_samples,
            num_series: m.stats.num_series,
            num_chunks: m.stats.num_chunks,
            level: m.compaction.level,
            sources: m.compaction.sources,
        })
    }

    /// The JSON text of `meta.json`.
    pub fn to_json(&self) -> String {
        let m = MetaJson {
            ulid: self.ulid.clone(),
            min_time: self.min_time,
            max_time: self.max_time,
            stats: StatsJson {
                num_samples: self.num_samples,
                num_series: self.num_series,
                num_chunks: self.num_chunks,
            },
            compaction: CompactionJson {
                level: self.level,
                sources: self.sources.clone(),
            },
            version: 1,
        };
        serde_json::to_string_pretty(&m).expect("BUG: meta serialization cannot fail")
    }
}

/// A new ULID: 48-bit millisecond time and 80 random bits, Crockford base32.
pub fn new_ulid() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let r: u128 = rand::random::<u128>() & ((1u128 << 80) - 1);
    let v = ((ms & ((1u128 << 48) - 1)) << 80) | r;
    (0..26)
        .map(|i| ALPHABET[((v >> (5 * (25 - i))) & 31) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trip_and_ulid_shape() {
        let dir = tempfile::tempdir().unwrap();
        let m = BlockMeta {
            ulid: new_ulid(),
            min_time: 1,
            max_time: 7200001,
            num_samples: 10,
            num_series: 2,
            num_chunks: 3,
            level: 2,
            sources: vec!["X".into()],
        };
        assert_eq!(m.ulid.len(), 26);
        std::fs::write(dir.path().join("meta.json"), m.to_json()).unwrap();
        assert_eq!(BlockMeta::read(dir.path()).unwrap(), m);
        assert!(m.to_json().contains("\"minTime\""));
        std::fs::write(dir.path().join("meta.json"), "{").unwrap();
        assert!(matches!(
            BlockMeta::read(dir.path()),
            Err(Error::Corrupt { .. })
        ));
    }
}
