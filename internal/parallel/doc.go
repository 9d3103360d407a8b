// Package parallel runs independent pieces of work on a bounded number of
// goroutines: renders of different releases, drift checks of different
// releases. It exists so that each caller does not grow its own worker pool.
package parallel
