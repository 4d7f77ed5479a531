// Wrapper main module: builds PD's pd-server (v8.5.4) from the Go module proxy. The PD module has no
// /v8 suffix, so the release is required by its pseudo-version.
module tidb-steward.local/cluster/pd-server

go 1.23
