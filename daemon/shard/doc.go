// Package shard spreads environments over the replicas of digitops serve
// (serve --shard) through Leases of the home cluster, so that each
// environment is synced by exactly one replica and a replica's arrival or
// loss moves only its share.
//
// # Members and assignment
//
// Each replica holds a member Lease (label digitops.io/shard-member),
// renewed every RenewInterval. The live members are the member Leases not
// expired. [Assign] maps environment names to live members by rendezvous
// hashing with bounded loads: an environment goes to the member that
// scores highest for its name, unless that member already has its fair
// share times [LoadBound], then to the next. Every replica computes the same
// assignment from the same members and names; adding or removing a member
// moves about 1/N of the environments.
//
// # Ownership and fencing
//
// Assignment says who should own an environment; its environment Lease says
// who does. A replica takes the Lease of an environment assigned to it when
// the Lease is free, released or expired, renews it while it holds it, and
// acts on the environment only inside a [Guard] taken from [Manager.Begin]:
// the guard's Lost channel closes when the replica must stop (the
// environment was assigned elsewhere, or the Lease could not be renewed in
// time). The sync loop passes Lost to the reconciler as its drain channel,
// so no Helm action starts after it; the one in flight finishes (Helm's
// pending lock is the second guard). A replica that cannot renew stops
// acting at LeaseDuration - RenewInterval after its last successful renew,
// measured on its own clock from the request's start, before any other
// replica can see the Lease expire.
//
// On a hand-over the old owner closes the guard, waits for the sync in
// flight to end, and releases the Lease (empties its holder); the new
// owner takes it at its next tick. When a replica dies, its Leases expire
// and the new owner takes them LeaseDuration after the last renew.
package shard
