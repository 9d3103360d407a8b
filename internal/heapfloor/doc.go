// Package heapfloor keeps the Go garbage collector from running on a
// small heap more often than it needs to.
//
// With GOGC=100 the runtime starts a collection when the heap has grown
// by as much as was live after the last one. A digitops run over a small
// environment keeps 10-15 MB live while Helm's template engine allocates
// hundreds of megabytes of garbage, so it collects every few megabytes:
// about fifty collections, an eighth of the CPU, in a 40-release
// environment-file edit. Start raises the GC percent, after each
// collection, so that the heap may grow by at least a floor (a fixed
// number of bytes) before the next one; once as much as the floor is
// live, the percent is back to where it was, so a large environment's
// peak memory does not grow.
package heapfloor
