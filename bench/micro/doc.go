// Package micro holds Go benchmarks of the parts of a sync whose cost grows
// with the size of an environment, on repositories bench/gen writes:
// loading a DIGIT environment (digit and helmfile layouts) and digesting
// its releases' values. It has no code of its own; run them with
//
//	go test -tags bench -run '^$' -bench . -benchtime 3x ./bench/micro/
//
// (make bench-micro). The build tag keeps them out of go test ./..., which
// would link a test binary to run no test.
//
// Each benchmark reports, besides time and allocations per operation,
// live-MiB: the heap still reachable after the operation (what a daemon
// keeps holding), measured after a forced garbage collection.
package micro
