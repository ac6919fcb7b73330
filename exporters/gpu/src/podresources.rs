//! kubelet's pod-resources API (`v1.PodResourcesLister/List` over gRPC on a unix socket):
//! which pod and container hold each GPU. A minimal gRPC client (HTTP/2 through hyper,
//! messages through prost) instead of tonic.

use std::path::Path;
use std::time::Duration;

use bytes::{Buf, Bytes};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::{Error, PodMap, PodRef};

/// kubelet's default pod-resources socket.
pub const DEFAULT_SOCKET: &str = "/var/lib/kubelet/pod-resources/kubelet.sock";

/// The device-plugin resource whose device IDs are GPU UUIDs.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

const LIST_PATH: &str = "/v1.PodResourcesLister/List";

/// `v1.ListPodResourcesResponse` (fields this collector reads).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListPodResourcesResponse {
    /// Every pod with resources on this node.
    #[prost(message, repeated, tag = "1")]
    pub pod_resources: Vec<PodResources>,
}

/// `v1.PodResources`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodResources {
    /// Pod name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Pod namespace.
    #[prost(string, tag = "2")]
    pub namespace: String,
    /// Its containers.
    #[prost(message, repeated, tag = "3")]
    pub containers: Vec<ContainerResources>,
}

/// `v1.ContainerResources`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerResources {
    /// Container name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Devices assigned by device plugins.
    #[prost(message, repeated, tag = "2")]
    pub devices: Vec<ContainerDevices>,
}

/// `v1.ContainerDevices`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerDevices {
    /// Resource name, e.g. `nvidia.com/gpu`.
    #[prost(string, tag = "1")]
    pub resource_name: String,
    /// Device IDs (for NVIDIA's device plugin: GPU UUIDs).
    #[prost(string, repeated, tag = "2")]
    pub device_ids: Vec<String>,
}

/// Maps each `nvidia.com/gpu` device ID of `resp` to its pod and container.
pub fn to_pod_map(resp: &ListPodResourcesResponse) -> PodMap {
    let mut map = PodMap::new();
    for pod in &resp.pod_resources {
        for c in &pod.containers {
            for d in c.devices.iter().filter(|d| d.resource_name == GPU_RESOURCE) {
                for id in &d.device_ids {
                    map.insert(
                        id.clone(),
                        PodRef {
                            namespace: pod.namespace.clone(),
                            pod: pod.name.clone(),
                            container: c.name.clone(),
                        },
                    );
                }
            }
        }
    }
    map
}

/// Asks the kubelet at `socket` which pods hold GPUs (2 s timeout).
pub fn list(socket: &Path) -> Result<PodMap, Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| err(format!("runtime: {e}")))?;
    let resp = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(2), call(socket))
            .await
            .map_err(|_| err("timed out".into()))?
    })?;
    Ok(to_pod_map(&resp))
}

fn err(msg: String) -> Error {
    Error::PodResources(msg)
}

async fn call(socket: &Path) -> Result<ListPodResourcesResponse, Error> {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(|e| err(format!("{}: {e}", socket.display())))?;
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(|e| err(format!("HTTP/2 handshake: {e}")))?;
    tokio::spawn(conn);
    // An empty ListPodResourcesRequest: uncompressed, length 0.
    let req = hyper::Request::post(format!("http://localhost{LIST_PATH}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from_static(&[0, 0, 0, 0, 0])))
        .map_err(|e| err(e.to_string()))?;
    let resp = send
        .send_request(req)
        .await
        .map_err(|e| err(format!("request: {e}")))?;
    if !resp.status().is_success() {
        return Err(err(format!("HTTP status {}", resp.status())));
    }
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| err(format!("response: {e}")))?;
    let trailers = body.trailers().cloned().unwrap_or_default();
    let status = trailers.get("grpc-status").or(headers.get("grpc-status"));
    let status = status.and_then(|v| v.to_str().ok()).unwrap_or("");
    if status != "0" {
        let msg = trailers.get("grpc-message").or(headers.get("grpc-message"));
        let msg = msg.and_then(|v| v.to_str().ok()).unwrap_or("");
        return Err(err(format!("gRPC status {status:?}: {msg}")));
    }
    decode(body.to_bytes())
}

/// Decodes one length-prefixed, uncompressed gRPC message.
fn decode(mut b: Bytes) -> Result<ListPodResourcesResponse, Error> {
    if b.len() < 5 {
        return Err(err("short gRPC message".into()));
    }
    let compressed = b.get_u8();
    let len = b.get_u32() as usize;
    if compressed != 0 || len != b.len() {
        return Err(err("unexpected gRPC framing".into()));
    }
    prost::Message::decode(b).map_err(|e| err(format!("decoding: {e}")))
}

/// Pod labels from the kubelet whose socket is at a path: none while the socket does not
/// exist; a failing kubelet is logged once (until it answers again) and gives none.
pub struct PodSource {
    socket: std::path::PathBuf,
    failing: bool,
}

impl PodSource {
    /// A source asking the kubelet at `socket` (see [`DEFAULT_SOCKET`]).
    pub fn new(socket: impl Into<std::path::PathBuf>) -> PodSource {
        PodSource {
            socket: socket.into(),
            failing: false,
        }
    }

    /// The current GPU → pod map (empty without a kubelet).
    pub fn pods(&mut self) -> PodMap {
        if !self.socket.exists() {
            return PodMap::new();
        }
        match list(&self.socket) {
            Ok(m) => {
                self.failing = false;
                m
            }
            Err(e) => {
                if !self.failing {
                    tracing::warn!(error = %e, "no pod labels for GPUs");
                }
                self.failing = true;
                PodMap::new()
            }
        }
    }
}
