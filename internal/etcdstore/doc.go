// Package etcdstore keeps the collection's cross-run state in etcd v3, for fleets where one host's
// files protect nothing: AAP runs jobs in short-lived execution-environment containers on several
// nodes, and a guard window, a circuit breaker or a retry budget must hold for all of them.
//
// [Store] implements state.Store (documents and append-only logs), state.Expiring (documents
// with a lease: the guard's lock expires with it) and state.SlotProvider (bulkhead and trial slots
// held under leases that their process keeps alive). It talks to etcd's gRPC-JSON gateway
// (POST /v3/kv/range, /v3/kv/txn, /v3/lease/grant, /v3/lease/keepalive, /v3/lease/revoke,
// /v3/auth/authenticate) with net/http, which every binary of the collection links anyway: the
// official client (go.etcd.io/etcd/client/v3 and gRPC) would add about 8 MiB to each module, a
// cost paid on every task on every host. DESIGN.md beside this file has the measurements and
// the mapping of each feature to keys, leases and transactions.
//
// Guarantees:
//   - Update is a compare-and-swap on the key's mod_revision, retried on conflict: concurrent
//     writers on any host never lose an update. A write whose answer was lost (a member died
//     with it in flight) is recognised by reading the key again.
//   - Every operation is bounded by Config.Timeout, retries across members included; an etcd
//     that cannot be reached gives an error wrapping state.ErrUnavailable.
//   - Reads are linearizable (served through the leader's read index).
//   - Keys live under Config.Prefix, so teams can share a cluster.
package etcdstore
