// Shape shared by every binary the local control plane builds from the Go module proxy.
// A recipe names a wrapper Go module under test/cluster/go/<module>/ (go.mod + tools.go, no copied
// code) and the package inside the module graph to build from it.
export interface BinaryRecipe {
  /** Binary file name, e.g. "kube-apiserver". */
  name: string;
  /** Pinned upstream version; part of the cache key so a bump rebuilds. */
  version: string;
  /** Wrapper module folder under test/cluster/go/. */
  module: string;
  /** Go package path to build, e.g. "k8s.io/kubernetes/cmd/kube-apiserver". */
  pkg: string;
  /** Go build tags, e.g. ["without_dashboard"]. */
  tags?: string[];
  /** -X style ldflags, e.g. ["-X k8s.io/component-base/version.gitVersion=v1.36.3"]. */
  ldflags?: string[];
}
