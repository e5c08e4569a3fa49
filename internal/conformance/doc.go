// Package conformance holds tests that every module of the collection must pass: bad input of
// every kind for every parameter fails cleanly, and secrets never leave the process. The tests
// read each module's Spec, so a new parameter is covered without writing a new test.
package conformance
