//! The pod-resources client against a fake kubelet: a gRPC (HTTP/2) server on a unix socket
//! answering `v1.PodResourcesLister/List` from a fixed response.
#![cfg(unix)]

use std::collections::VecDeque;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use gpu_collector::podresources::{
    self, ContainerDevices, ContainerResources, ListPodResourcesResponse, PodResources,
};
use gpu_collector::{Error, PodRef};
use hyper::body::{Frame, Incoming};
use hyper::HeaderMap;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// A response body: its frames in order.
struct Frames(VecDeque<Frame<Bytes>>);

impl hyper::body::Body for Frames {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }
}

fn response() -> ListPodResourcesResponse {
    let devices = |res: &str, ids: &[&str]| ContainerDevices {
        resource_name: res.into(),
        device_ids: ids.iter().map(|s| s.to_string()).collect(),
    };
    ListPodResourcesResponse {
        pod_resources: vec![
            PodResources {
                name: "trainer-0".into(),
                namespace: "ml".into(),
                containers: vec![
                    ContainerResources {
                        name: "sidecar".into(),
                        devices: vec![devices("example.com/fpga", &["fpga0"])],
                    },
                    ContainerResources {
                        name: "pytorch".into(),
                        devices: vec![devices(
                            "nvidia.com/gpu",
                            &["GPU-8f3c1a52-6b0e-4d2a-9c7e-1f2a3b4c5d6e"],
                        )],
                    },
                ],
            },
            PodResources {
                name: "web-1".into(),
                namespace: "default".into(),
                containers: vec![ContainerResources {
                    name: "nginx".into(),
                    devices: vec![],
                }],
            },
        ],
    }
}

/// Serves one connection on `socket` in a thread, answering with `status` (gRPC code).
fn fake_kubelet(socket: &Path, status: &'static str) -> std::thread::JoinHandle<()> {
    let listener = std::os::unix::net::UnixListener::bind(socket).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::UnixListener::from_std(listener).unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| async move {
                assert_eq!(req.uri().path(), "/v1.PodResourcesLister/List");
                let msg = prost::Message::encode_to_vec(&response());
                let mut data = BytesMut::new();
                data.put_u8(0);
                data.put_u32(msg.len() as u32);
                data.put_slice(&msg);
                let mut trailers = HeaderMap::new();
                trailers.insert("grpc-status", status.parse().unwrap());
                trailers.insert("grpc-message", "denied".parse().unwrap());
                let frames = Frames(VecDeque::from([
                    Frame::data(data.freeze()),
                    Frame::trailers(trailers),
                ]));
                let resp = hyper::Response::builder()
                    .header("content-type", "application/grpc")
                    .body(frames)
                    .unwrap();
                Ok::<_, std::convert::Infallible>(resp)
            });
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        })
    })
}

#[test]
fn gpus_map_to_their_pods() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("kubelet.sock");
    let server = fake_kubelet(&socket, "0");
    let map = podresources::PodSource::new(&socket).pods();
    assert_eq!(map.len(), 1, "{map:?}");
    assert_eq!(
        map.get("GPU-8f3c1a52-6b0e-4d2a-9c7e-1f2a3b4c5d6e"),
        Some(&PodRef {
            namespace: "ml".into(),
            pod: "trainer-0".into(),
            container: "pytorch".into(),
        })
    );
    server.join().unwrap();
}

#[test]
fn grpc_error_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("kubelet.sock");
    let server = fake_kubelet(&socket, "7");
    let e = podresources::list(&socket).unwrap_err();
    assert!(
        matches!(e, Error::PodResources(ref m) if m.contains("\"7\": denied")),
        "{e}"
    );
    server.join().unwrap();
}

#[test]
fn missing_socket_is_an_error_and_no_pods() {
    let e = podresources::list(Path::new("/nonexistent/kubelet.sock")).unwrap_err();
    assert!(matches!(e, Error::PodResources(_)), "{e}");
    let mut src = podresources::PodSource::new("/nonexistent/kubelet.sock");
    assert!(src.pods().is_empty());
}

#[test]
fn failing_kubelet_gives_no_pods() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("kubelet.sock");
    let server = fake_kubelet(&socket, "14");
    assert!(podresources::PodSource::new(&socket).pods().is_empty());
    server.join().unwrap();
}
