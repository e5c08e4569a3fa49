package session

import (
	"encoding/json"
	"errors"
	"strconv"
)

// parseLite decodes into l the fields of an operation record that the statistics read (opLite),
// and checks that line is exactly one valid JSON object. It is what json.Unmarshal into an
// opLite does for the records this package writes (a test compares them), in one pass and
// without reflection: finalize reads every record of a session, and decoding is most of its
// work. Keys match exactly (json.Unmarshal would also take "Status" for "status"; no writer of
// records uses other cases). A value of the wrong type, or anything that is not one JSON object,
// is an error.
func parseLite(line []byte, l *opLite) error {
	p := liteParser{b: line}
	p.ws()
	if err := p.object(func(key []byte) error {
		switch string(key) {
		case "operation_name":
			return p.str(&l.OperationName)
		case "host":
			return p.str(&l.Host)
		case "status":
			return p.str(&l.Status)
		case "error_type":
			return p.str(&l.ErrorType)
		case "attempt_count":
			return p.integer(&l.AttemptCount)
		case "execution_time":
			return p.float(&l.ExecutionTime)
		case "attempts":
			return p.attempts(&l.Attempts)
		}
		return p.skip()
	}); err != nil {
		return err
	}
	p.ws()
	if p.i != len(p.b) {
		return errLite
	}
	return nil
}

var errLite = errors.New("not an operation record")

// liteParser reads JSON from b at i.
type liteParser struct {
	b     []byte
	i     int
	depth int
}

// maxLiteDepth bounds the nesting of objects and arrays, as encoding/json does.
const maxLiteDepth = 10000

func (p *liteParser) enter() error {
	if p.depth++; p.depth > maxLiteDepth {
		return errLite
	}
	return nil
}

func (p *liteParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *liteParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *liteParser) expect(c byte) error {
	p.ws()
	if p.peek() != c {
		return errLite
	}
	p.i++
	return nil
}

// object reads an object, calling field with each key, positioned at its value.
func (p *liteParser) object(field func(key []byte) error) error {
	if err := p.expect('{'); err != nil {
		return err
	}
	if err := p.enter(); err != nil {
		return err
	}
	defer func() { p.depth-- }()
	p.ws()
	if p.peek() == '}' {
		p.i++
		return nil
	}
	for {
		p.ws()
		start := p.i
		raw, err := p.stringToken()
		if err != nil {
			return err
		}
		key := raw[1 : len(raw)-1]
		if hasEscape(key) {
			var s string
			if json.Unmarshal(p.b[start:p.i], &s) != nil {
				return errLite
			}
			key = []byte(s)
		}
		if err := p.expect(':'); err != nil {
			return err
		}
		p.ws()
		if err := field(key); err != nil {
			return err
		}
		p.ws()
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return errLite
		}
	}
}

func hasEscape(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// stringToken reads a string and returns it with its quotes, undecoded.
func (p *liteParser) stringToken() ([]byte, error) {
	if p.peek() != '"' {
		return nil, errLite
	}
	start := p.i
	p.i++
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return p.b[start:p.i], nil
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return nil, errLite
			}
			switch p.b[p.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i += 2
			case 'u':
				if p.i+6 > len(p.b) {
					return nil, errLite
				}
				for _, h := range p.b[p.i+2 : p.i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return nil, errLite
					}
				}
				p.i += 6
			default:
				return nil, errLite
			}
		case c < 0x20:
			return nil, errLite
		default:
			p.i++
		}
	}
	return nil, errLite
}

// null reads a null when there is one.
func (p *liteParser) null() bool {
	if len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "null" {
		p.i += 4
		return true
	}
	return false
}

// str reads a string (or null, which leaves *dst as it is).
func (p *liteParser) str(dst *string) error {
	if p.null() {
		return nil
	}
	raw, err := p.stringToken()
	if err != nil {
		return err
	}
	if inner := raw[1 : len(raw)-1]; !hasEscape(inner) && validUTF8(inner) {
		*dst = string(inner)
		return nil
	}
	return json.Unmarshal(raw, dst) // escapes and invalid UTF-8 as encoding/json has them
}

func validUTF8(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false // rare in records: let encoding/json decide
		}
	}
	return true
}

// numberToken reads a JSON number.
func (p *liteParser) numberToken() ([]byte, error) {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	switch c := p.peek(); {
	case c == '0':
		p.i++
	case c >= '1' && c <= '9':
		for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
			p.i++
		}
	default:
		return nil, errLite
	}
	if p.peek() == '.' {
		p.i++
		if c := p.peek(); c < '0' || c > '9' {
			return nil, errLite
		}
		for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
			p.i++
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.i++
		if c := p.peek(); c == '+' || c == '-' {
			p.i++
		}
		if c := p.peek(); c < '0' || c > '9' {
			return nil, errLite
		}
		for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
			p.i++
		}
	}
	return p.b[start:p.i], nil
}

// integer reads a number that must be an integer (or null).
func (p *liteParser) integer(dst *int) error {
	if p.null() {
		return nil
	}
	tok, err := p.numberToken()
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(string(tok), 10, 0)
	if err != nil {
		return errLite
	}
	*dst = int(n)
	return nil
}

// float reads a number (or null).
func (p *liteParser) float(dst *float64) error {
	if p.null() {
		return nil
	}
	tok, err := p.numberToken()
	if err != nil {
		return err
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return errLite
	}
	*dst = f
	return nil
}

// attempts reads the attempts' status and error_type (or null, which leaves them as they are).
func (p *liteParser) attempts(dst *[]attemptLite) error {
	if p.null() {
		return nil
	}
	if err := p.expect('['); err != nil {
		return err
	}
	out := make([]attemptLite, 0, 4)
	p.ws()
	if p.peek() == ']' {
		p.i++
		*dst = out
		return nil
	}
	for {
		p.ws()
		var a attemptLite
		if p.null() {
			out = append(out, a)
		} else {
			if err := p.object(func(key []byte) error {
				switch string(key) {
				case "status":
					return p.str(&a.Status)
				case "error_type":
					if p.null() {
						a.ErrorType = nil
						return nil
					}
					var s string
					if err := p.str(&s); err != nil {
						return err
					}
					a.ErrorType = &s
					return nil
				}
				return p.skip()
			}); err != nil {
				return err
			}
			out = append(out, a)
		}
		p.ws()
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			*dst = out
			return nil
		default:
			return errLite
		}
	}
}

// skip reads any value.
func (p *liteParser) skip() error {
	p.ws()
	switch c := p.peek(); {
	case c == '{':
		return p.object(func([]byte) error { return p.skip() })
	case c == '[':
		p.i++
		if err := p.enter(); err != nil {
			return err
		}
		defer func() { p.depth-- }()
		p.ws()
		if p.peek() == ']' {
			p.i++
			return nil
		}
		for {
			if err := p.skip(); err != nil {
				return err
			}
			p.ws()
			switch p.peek() {
			case ',':
				p.i++
			case ']':
				p.i++
				return nil
			default:
				return errLite
			}
		}
	case c == '"':
		_, err := p.stringToken()
		return err
	case c == '-' || c >= '0' && c <= '9':
		_, err := p.numberToken()
		return err
	}
	for _, lit := range []string{"true", "false", "null"} {
		if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
			p.i += len(lit)
			return nil
		}
	}
	return errLite
}
