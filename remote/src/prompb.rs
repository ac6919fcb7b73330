//! Owned protobuf messages of Prometheus' `prompb` package (types.proto + remote.proto),
//! written by hand with `prost` derives; field numbers match upstream exactly.
//!
//! Native histograms are kept minimal: [`Histogram`] only declares `timestamp = 15`; every
//! other histogram field is skipped as unknown when decoding and lost when re-encoding.

/// A remote-write request: a batch of series and optional metric metadata.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series with their samples (field 1).
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Metric metadata (field 3; field 2 is reserved upstream).
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// One series: sorted labels plus samples, exemplars and native histograms.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Labels, sorted by name, without duplicates.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Float samples.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Exemplars.
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    /// Native histogram samples (kept minimal, see module docs).
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// A label name/value pair.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message)]
pub struct Label {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// A set of labels (`prometheus.Labels`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Labels {
    /// The labels.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
}

/// A float sample.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// Sample value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Timestamp in milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// An exemplar attached to a series.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    /// Exemplar labels (may be empty).
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Exemplar value.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Timestamp in milliseconds.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// A native histogram sample, reduced to its timestamp (field 15); other fields are not modelled.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Histogram {
    /// Timestamp in milliseconds.
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
}

/// Metadata of one metric family.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    /// Metric type.
    #[prost(enumeration = "metric_metadata::MetricType", tag = "1")]
    pub r#type: i32,
    /// Metric family name.
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    /// Help text.
    #[prost(string, tag = "4")]
    pub help: String,
    /// Unit.
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// Nested types of [`MetricMetadata`].
pub mod metric_metadata {
    /// Metric type of a family.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum MetricType {
        /// Unknown type.
        Unknown = 0,
        /// Counter.
        Counter = 1,
        /// Gauge.
        Gauge = 2,
        /// Classic histogram.
        Histogram = 3,
        /// Gauge histogram.
        Gaugehistogram = 4,
        /// Summary.
        Summary = 5,
        /// Info.
        Info = 6,
        /// State set.
        Stateset = 7,
    }
}

/// A label matcher of a remote-read query.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelMatcher {
    /// Match operator.
    #[prost(enumeration = "label_matcher::Type", tag = "1")]
    pub r#type: i32,
    /// Label name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Value or regular expression.
    #[prost(string, tag = "3")]
    pub value: String,
}

/// Nested types of [`LabelMatcher`].
pub mod label_matcher {
    /// Label matcher operator.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Type {
        /// `=`
        Eq = 0,
        /// `!=`
        Neq = 1,
        /// `=~`
        Re = 2,
        /// `!~`
        Nre = 3,
    }
}

/// PromQL context of a remote-read query.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadHints {
    /// Query step in milliseconds.
    #[prost(int64, tag = "1")]
    pub step_ms: i64,
    /// Surrounding function or aggregation.
    #[prost(string, tag = "2")]
    pub func: String,
    /// Start time in milliseconds.
    #[prost(int64, tag = "3")]
    pub start_ms: i64,
    /// End time in milliseconds.
    #[prost(int64, tag = "4")]
    pub end_ms: i64,
    /// Label names used in aggregation.
    #[prost(string, repeated, tag = "5")]
    pub grouping: Vec<String>,
    /// `by` (true) or `without` (false).
    #[prost(bool, tag = "6")]
    pub by: bool,
    /// Range-vector selector range in milliseconds.
    #[prost(int64, tag = "7")]
    pub range_ms: i64,
}

/// A chunk of encoded samples of one series.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Chunk {
    /// Smallest timestamp in the chunk (ms).
    #[prost(int64, tag = "1")]
    pub min_time_ms: i64,
    /// Largest timestamp in the chunk (ms).
    #[prost(int64, tag = "2")]
    pub max_time_ms: i64,
    /// Chunk encoding.
    #[prost(enumeration = "chunk::Encoding", tag = "3")]
    pub r#type: i32,
    /// Encoded chunk bytes.
    #[prost(bytes = "vec", tag = "4")]
    pub data: Vec<u8>,
}

/// Nested types of [`Chunk`].
pub mod chunk {
    /// Chunk encoding.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Encoding {
        /// Unknown encoding.
        Unknown = 0,
        /// Gorilla XOR float chunk.
        Xor = 1,
        /// Native histogram chunk.
        Histogram = 2,
        /// Float native histogram chunk.
        FloatHistogram = 3,
    }
}

/// A series with its chunks, as streamed in a chunked remote-read response.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChunkedSeries {
    /// Labels, sorted by name.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Chunks, sorted by time.
    #[prost(message, repeated, tag = "2")]
    pub chunks: Vec<Chunk>,
}

/// A remote-read request: one or more queries.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadRequest {
    /// Queries to run.
    #[prost(message, repeated, tag = "1")]
    pub queries: Vec<Query>,
    /// Response types the client accepts, in order of preference.
    #[prost(enumeration = "read_request::ResponseType", repeated, tag = "2")]
    pub accepted_response_types: Vec<i32>,
}

/// Nested types of [`ReadRequest`].
pub mod read_request {
    /// Remote-read response type.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum ResponseType {
        /// One snappy-compressed `ReadResponse` with raw samples.
        Samples = 0,
        /// A stream of framed `ChunkedReadResponse` messages with XOR chunks.
        StreamedXorChunks = 1,
    }
}

/// A remote-read response in SAMPLES mode.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadResponse {
    /// One result per query, in request order.
    #[prost(message, repeated, tag = "1")]
    pub results: Vec<QueryResult>,
}

/// One remote-read query.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Query {
    /// Start of the range (ms, inclusive).
    #[prost(int64, tag = "1")]
    pub start_timestamp_ms: i64,
    /// End of the range (ms, inclusive).
    #[prost(int64, tag = "2")]
    pub end_timestamp_ms: i64,
    /// Label matchers selecting series.
    #[prost(message, repeated, tag = "3")]
    pub matchers: Vec<LabelMatcher>,
    /// Optional PromQL hints.
    #[prost(message, optional, tag = "4")]
    pub hints: Option<ReadHints>,
}

/// The series answering one query (SAMPLES mode).
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryResult {
    /// Matching series with samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// One frame of a STREAMED_XOR_CHUNKS response.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChunkedReadResponse {
    /// Series with their chunks.
    #[prost(message, repeated, tag = "1")]
    pub chunked_series: Vec<ChunkedSeries>,
    /// Index of the query in the request these series answer.
    #[prost(int64, tag = "2")]
    pub query_index: i64,
}
