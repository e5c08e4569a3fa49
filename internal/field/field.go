// Package field is the error of one invalid value, named by its path: a module parameter
// (max_attempts), a key inside one (circuit_breaker.window, external_systems[2].url,
// checks[1].comparison), a command-line flag or an environment variable. Every package that
// validates input returns *Error values (joined with errors.Join when there are several), so a
// caller finds the path with errors.As and never reads it out of a message.
//
// The collection's messages grew three wordings, which users see and which stay as they are; an
// Error carries its Form:
//
//	Colon      external_systems[0].url: must be an http:// or https:// URL with a host
//	Parameter  parameter max_attempts: must be an integer between 1 and 10, got 0
//	Sentence   max_delay must be at least base_delay (60s), got 30s
//	Plain      etcd_cert_file and etcd_key_file go together: give both or neither
package field

import (
	"errors"
	"strings"
)

// Form is how an Error reads.
type Form uint8

// The forms.
const (
	Colon     Form = iota // "path: problem"
	Parameter             // "parameter path: problem", a module parameter
	Sentence              // "path problem", the problem continuing the path
	Plain                 // "problem", which names the value itself
)

// Error is one invalid value. Problem says what is allowed and, unless the value is a secret, what
// was given; Err is the underlying cause, if any (read after ": "). Not modified after creation:
// safe for concurrent use.
type Error struct {
	Path    string
	Problem string
	Err     error
	Form    Form
}

func (e *Error) Error() string {
	switch e.Form {
	case Parameter:
		return "parameter " + e.Path + ": " + e.detail()
	case Sentence:
		return e.Path + " " + e.detail()
	case Plain:
		return e.detail()
	}
	return e.Path + ": " + e.detail()
}

// detail is the problem and its cause.
func (e *Error) detail() string {
	switch {
	case e.Err == nil:
		return e.Problem
	case e.Problem == "":
		return e.Err.Error()
	}
	return e.Problem + ": " + e.Err.Error()
}

// Detail is what a message writes after naming the value itself (as "--flag: " or "parameter
// name: "): the problem and its cause for the Colon and Parameter forms, whose path would come
// first; the whole text for the others, whose problem reads on from the path or names it.
func (e *Error) Detail() string {
	if e.Form == Colon || e.Form == Parameter {
		return e.detail()
	}
	return e.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// In is the same error read in another form. A Sentence or Plain problem becomes the whole problem
// of a Colon or Parameter one, which names the path again first.
func (e *Error) In(form Form) *Error {
	c := *e
	if (e.Form == Sentence || e.Form == Plain) && (form == Colon || form == Parameter) {
		c.Problem, c.Err = e.Error(), nil
	}
	c.Form = form
	return &c
}

// Line writes err on one line: the errors that errors.Join put together are separated by "; "
// instead of newlines.
func Line(err error) string {
	if err == nil {
		return ""
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return err.Error()
	}
	parts := make([]string, 0, len(j.Unwrap()))
	for _, e := range j.Unwrap() {
		parts = append(parts, Line(e))
	}
	return strings.Join(parts, "; ")
}

// All returns the *Error values in err, in order, through wrapping and errors.Join.
func All(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var fe *Error
		if errors.As(err, &fe) {
			out = append(out, fe)
		}
	}
	walk(err)
	return out
}
