// pd-modproxy: fills a file:// GOPROXY from local git snapshots, for module versions the Go module
// proxy refuses (see ../../../binaries-pd.ts). Our own tool, no upstream code.
module tidb-steward.local/cluster/pd-modproxy

go 1.26.0

require golang.org/x/mod v0.42.0
