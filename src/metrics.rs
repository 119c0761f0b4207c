//! Process-wide counters, rendered as Prometheus text by `GET /metrics`.
//!
//! HTTP requests are labelled by route pattern (never the raw path, so ids
//! do not explode the series), method and status; requests that matched no
//! route share the pattern `unmatched`, and methods outside the standard
//! nine share `OTHER`. Every label is thus drawn from a fixed set.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    activity_writes: AtomicU64,
    activity_write_failures: AtomicU64,
    spotify_write_waits: AtomicU64,
    job_runs: Mutex<BTreeMap<String, u64>>,
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, u16), Histogram>>,
}

static GLOBAL: LazyLock<Metrics> = LazyLock::new(Metrics::default);

pub fn global() -> &'static Metrics {
    &GLOBAL
}

impl Metrics {
    pub fn activity_written(&self) {
        self.activity_writes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn activity_write_failed(&self) {
        self.activity_write_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn activity_write_failures(&self) -> u64 {
        self.activity_write_failures.load(Ordering::Relaxed)
    }

    pub fn activity_writes(&self) -> u64 {
        self.activity_writes.load(Ordering::Relaxed)
    }

    /// A write to a linked playlist found another write of it to Spotify
    /// under way, and waits a turn (counted once per look).
    pub fn spotify_write_waited(&self) {
        self.spotify_write_waits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn spotify_write_waits(&self) -> u64 {
        self.spotify_write_waits.load(Ordering::Relaxed)
    }

    pub fn job_run(&self, status: &str) {
        let mut runs = self.job_runs.lock().unwrap_or_else(|e| e.into_inner());
        *runs.entry(status.to_string()).or_default() += 1;
    }

    pub fn http_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        {
            let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
            *requests
                .entry((route.to_string(), method.to_string(), status))
                .or_default() += 1;
        }
        let seconds = elapsed.as_secs_f64();
        let mut latency = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let h = latency.entry((route.to_string(), status)).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP shuffify_http_requests_total HTTP requests by route pattern, method and status.");
        let _ = writeln!(out, "# TYPE shuffify_http_requests_total counter");
        for ((route, method, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "shuffify_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                escape(route),
                escape(method)
            );
        }
        let _ = writeln!(
            out,
            "# HELP shuffify_http_request_duration_seconds HTTP request latency by route pattern and status."
        );
        let _ = writeln!(
            out,
            "# TYPE shuffify_http_request_duration_seconds histogram"
        );
        for ((route, status), h) in self
            .latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let labels = format!("route=\"{}\",status=\"{status}\"", escape(route));
            for (bound, n) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "shuffify_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "shuffify_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "shuffify_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "shuffify_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP shuffify_activity_log_writes_total Activity rows written."
        );
        let _ = writeln!(out, "# TYPE shuffify_activity_log_writes_total counter");
        let _ = writeln!(
            out,
            "shuffify_activity_log_writes_total {}",
            self.activity_writes()
        );
        let _ = writeln!(out, "# HELP shuffify_activity_log_write_failures_total Activity rows that could not be written.");
        let _ = writeln!(
            out,
            "# TYPE shuffify_activity_log_write_failures_total counter"
        );
        let _ = writeln!(
            out,
            "shuffify_activity_log_write_failures_total {}",
            self.activity_write_failures()
        );
        let _ = writeln!(
            out,
            "# HELP shuffify_spotify_write_waits_total Looks of a write to a linked playlist that found another write of it to Spotify under way."
        );
        let _ = writeln!(out, "# TYPE shuffify_spotify_write_waits_total counter");
        let _ = writeln!(
            out,
            "shuffify_spotify_write_waits_total {}",
            self.spotify_write_waits()
        );
        let _ = writeln!(
            out,
            "# HELP shuffify_job_runs_total Scheduled job runs by final status."
        );
        let _ = writeln!(out, "# TYPE shuffify_job_runs_total counter");
        for (status, n) in self
            .job_runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "shuffify_job_runs_total{{status=\"{}\"}} {n}",
                escape(status)
            );
        }
        out
    }
}

/// The method label: one of the standard methods, anything else `OTHER`,
/// so a client inventing methods cannot invent series.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
