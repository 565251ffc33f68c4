/*
Copyright 2026 The treue authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package accrual

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Strict input. A request is read the same way whatever backend stores it:
//
//   - The body is application/json (the media type exactly; a charset, if any,
//     utf-8), one JSON object and nothing after it, at most MaxBodyBytes.
//   - It is decoded by github.com/go-json-experiment/json, which refuses duplicate
//     member names (a gateway reading the first "points" and the service the last
//     would disagree), names that differ from the API's only in case, invalid
//     UTF-8 and lone surrogates; unknown members are refused too.
//   - Every string of the body, and every path and query value, is text: valid
//     UTF-8 without control characters (NUL included) or bidirectional
//     overrides, and at most maxText bytes (maxFreeText for free text). Each is a
//     400 that names the field, before the ledger sees the request.

// maxText bounds an identifier: a member id, a code, a referral or settlement
// id, a category, a currency. maxFreeText bounds free text: an adjustment's reason.
const (
	maxText     = 200
	maxFreeText = 1000
)

// freeText are the fields that hold prose rather than an identifier.
var freeText = map[string]bool{"reason": true, "message": true}

// decode reads exactly one JSON object of the expected shape into into, and
// checks every string in it.
func decode(w http.ResponseWriter, r *http.Request, into any) error {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	return decodeJSON(http.MaxBytesReader(w, r.Body, MaxBodyBytes), into)
}

func checkContentType(ct string) error {
	unsupported := func(format string, args ...any) error {
		return &problemError{http.StatusUnsupportedMediaType, "unsupported-media-type", "The body must be JSON", fmt.Errorf(format, args...)}
	}
	if ct == "" {
		return unsupported("no Content-Type: send Content-Type: application/json")
	}
	media, params, err := mime.ParseMediaType(ct)
	if err != nil || media != "application/json" {
		return unsupported("Content-Type %q: send application/json", ct)
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return unsupported("Content-Type %q: application/json takes no parameter but charset=utf-8", ct)
		}
	}
	return nil
}

// decodeJSON is decode without the HTTP parts; the fuzz targets drive it.
func decodeJSON(body io.Reader, into any) error {
	raw, err := io.ReadAll(body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return &problemError{http.StatusRequestEntityTooLarge, "body-too-large", "The body is too large",
			fmt.Errorf("the body is over %d bytes", MaxBodyBytes)}
	case err != nil:
		return badRequest("reading the body: %v", err)
	}
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 {
		return badRequest("the body is empty: send a JSON object")
	}
	if trimmed[0] != '{' {
		return badRequest("the body is not a JSON object")
	}
	if err := jsonv2.Unmarshal(raw, into, jsonv2.RejectUnknownMembers(true)); err != nil {
		return decodeError(err)
	}
	return checkStrings(reflect.ValueOf(into), "")
}

// decodeError says what is wrong with a body the decoder refused, naming the
// field where there is one.
func decodeError(err error) error {
	var sem *jsonv2.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.As(err, &syn):
		field := fieldName(syn.JSONPointer)
		switch {
		case errors.Is(syn.Err, io.ErrUnexpectedEOF):
			return badRequest("the body is not JSON: it ends before the object does")
		case errors.Is(syn.Err, jsontext.ErrDuplicateName):
			return badRequest("field %q: it appears more than once; send each field once", field)
		case strings.Contains(syn.Err.Error(), "after top-level value"):
			return badRequest("the body holds more than one JSON value, or data after the object")
		case field != "":
			return badRequest("field %q: %v", field, syn.Err)
		default:
			return badRequest("the body is not JSON: %v at byte %d", syn.Err, syn.ByteOffset)
		}
	case errors.As(err, &sem):
		field := fieldName(sem.JSONPointer)
		switch {
		case errors.Is(sem.Err, jsonv2.ErrUnknownName):
			return badRequest("unknown field %q: the API does not have it (names are case-sensitive)", field)
		case sem.GoType != nil:
			return badRequest("field %q: want %s, got a JSON %s", field, wireType(sem.GoType), sem.JSONKind)
		default:
			return badRequest("field %q: %v", field, sem.Err)
		}
	}
	return badRequest("the body is not a valid request: %v", err)
}

// wireType names a Go type the way the API document does.
func wireType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int64, reflect.Int, reflect.Int32:
		return "an integer within 64 bits"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "an array"
	case reflect.Struct:
		return "an object"
	}
	return t.String()
}

// fieldName turns a JSON pointer (/lines/0/category) into the name the API's
// messages use (lines[0].category).
func fieldName(ptr jsontext.Pointer) string {
	var b strings.Builder
	for tok := range ptr.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

// checkStrings checks every string reachable from v, naming each by its JSON
// name.
func checkStrings(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return checkStrings(v.Elem(), path)
	case reflect.String:
		last := path[strings.LastIndexAny(path, ".]")+1:]
		limit := maxText
		if freeText[last] {
			limit = maxFreeText
		}
		return checkText(path, v.String(), limit)
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if err := checkStrings(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if path != "" {
				name = path + "." + name
			}
			if err := checkStrings(v.Field(i), name); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkText refuses a string that is not text a person or a till would send:
// invalid UTF-8, a control character (NUL included), a bidirectional override or
// isolate, or more bytes than the field holds.
func checkText(field, s string, limit int) error {
	if len(s) > limit {
		return badRequest("field %q: %d bytes, at most %d", field, len(s), limit)
	}
	if !utf8.ValidString(s) {
		return badRequest("field %q: not valid UTF-8", field)
	}
	for i, r := range s {
		if unicode.IsControl(r) || isBidiControl(r) {
			return badRequest("field %q: character %U at byte %d is a control character; send printable text", field, r, i)
		}
	}
	return nil
}

// checkURLText checks the path's segments (a member id, a code) and every query
// value as text.
func checkURLText(r *http.Request) error {
	for _, seg := range strings.Split(r.URL.Path, "/") {
		if err := checkText("path", seg, maxText); err != nil {
			return err
		}
	}
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			if err := checkText(k, v, maxText); err != nil {
				return err
			}
		}
	}
	return nil
}

// isBidiControl is a character that reorders the text around it (the "Trojan
// Source" characters): embeddings, overrides, isolates and marks.
func isBidiControl(r rune) bool {
	switch {
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	}
	return false
}
