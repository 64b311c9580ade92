package servicedesk

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxSubjectLength is the longest subject SDP Cloud accepts, in characters.
const MaxSubjectLength = 250

// RequestsService is the API of requests: c.Requests.
type RequestsService service

// RequestList is one page of requests.
type RequestList struct {
	Requests []*Request
	ListInfo ListInfo
}

// NoteList is one page of notes.
type NoteList struct {
	Notes    []*Note
	ListInfo ListInfo
}

func checkRequestInput(in *RequestInput, create bool) error {
	if in == nil {
		return errors.New("servicedesk: nil *RequestInput")
	}
	if create && strings.TrimSpace(in.Subject) == "" {
		return errors.New("servicedesk: request.subject is empty: SDP requires a subject")
	}
	if n := utf8.RuneCountInString(in.Subject); n > MaxSubjectLength {
		return fmt.Errorf("servicedesk: request.subject has %d characters: at most %d", n, MaxSubjectLength)
	}
	if strings.ContainsAny(in.Subject, "\r\n\u2028\u2029") {
		return errors.New("servicedesk: request.subject contains a line break: it is one line of plain text")
	}
	if i := strings.IndexFunc(in.Subject, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(in.Subject[i:])
		return fmt.Errorf("servicedesk: request.subject contains the control character %U at byte %d: it is one line of plain text", r, i)
	}
	if !utf8.ValidString(in.Subject) || !utf8.ValidString(in.Description) {
		return errors.New("servicedesk: request.subject or description is not valid UTF-8")
	}
	return nil
}

type requestBody struct {
	Request any `json:"request"`
}

type requestAnswer struct {
	envelope
	Request *Request `json:"request"`
}

// Create makes a new request. Only the subject is required by SDP itself;
// templates can require more, reported as an *Error matching
// ErrMandatoryField with the fields in Error.Fields. Create is a POST and
// is retried only when SDP certainly did not receive it.
func (s *RequestsService) Create(ctx context.Context, in *RequestInput) (*Request, error) {
	if err := checkRequestInput(in, true); err != nil {
		return nil, err
	}
	var out requestAnswer
	if _, err := s.client.do(ctx, call{method: http.MethodPost, path: "requests", input: requestBody{in}}, &out); err != nil {
		return nil, err
	}
	return nonNilRequest(out.Request)
}

// Get reads the request with this id.
func (s *RequestsService) Get(ctx context.Context, id ID) (*Request, error) {
	if err := checkRequestID(id); err != nil {
		return nil, err
	}
	var out requestAnswer
	if _, err := s.client.do(ctx, call{method: http.MethodGet, path: "requests/" + string(id)}, &out); err != nil {
		return nil, err
	}
	return nonNilRequest(out.Request)
}

// Update changes the fields set in in and returns the request as SDP has
// it afterwards.
func (s *RequestsService) Update(ctx context.Context, id ID, in *RequestInput) (*Request, error) {
	if err := checkRequestID(id); err != nil {
		return nil, err
	}
	if err := checkRequestInput(in, false); err != nil {
		return nil, err
	}
	var out requestAnswer
	if _, err := s.client.do(ctx, call{method: http.MethodPut, path: "requests/" + string(id), input: requestBody{in}}, &out); err != nil {
		return nil, err
	}
	return nonNilRequest(out.Request)
}

func nonNilRequest(r *Request) (*Request, error) {
	if r == nil {
		return nil, fmt.Errorf("servicedesk: answer has no request: %w", ErrUnexpectedContent)
	}
	return r, nil
}

// List reads one page of requests. opts may be nil.
func (s *RequestsService) List(ctx context.Context, opts *ListOptions) (*RequestList, error) {
	q, err := listValues(opts)
	if err != nil {
		return nil, err
	}
	var out struct {
		envelope
		Requests []*Request `json:"requests"`
	}
	res, err := s.client.do(ctx, call{method: http.MethodGet, path: "requests", query: q}, &out)
	if err != nil {
		return nil, err
	}
	if err := nullRow("requests", out.Requests); err != nil {
		return nil, err
	}
	l := &RequestList{Requests: out.Requests}
	if res.listInfo != nil {
		l.ListInfo = *res.listInfo
	}
	return l, nil
}

// All iterates over every request matching opts, page after page, from
// opts.StartIndex (default 1) with opts.RowCount rows per page (default
// 100). It works on a copy of opts, which it never changes. A failed page
// yields its error once and ends the iteration. A page that the server
// answers from another row than the one asked (a server ignoring
// start_index), or an empty page announcing more rows, ends it with an
// error matching ErrUnexpectedContent rather than looping.
func (s *RequestsService) All(ctx context.Context, opts *ListOptions) iter.Seq2[*Request, error] {
	return func(yield func(*Request, error) bool) {
		var o ListOptions
		if opts != nil {
			o = *opts
		}
		if o.RowCount == 0 {
			o.RowCount = MaxRowCount
		}
		if o.StartIndex == 0 {
			o.StartIndex = 1
		}
		for {
			page, err := s.List(ctx, &o)
			if err != nil {
				yield(nil, err)
				return
			}
			if si := page.ListInfo.StartIndex; si != 0 && si != o.StartIndex {
				yield(nil, fmt.Errorf("servicedesk: list from row %d: the server answered the page from row %d; stopping rather than looping: %w", o.StartIndex, si, ErrUnexpectedContent))
				return
			}
			for _, r := range page.Requests {
				if !yield(r, nil) {
					return
				}
			}
			if !page.ListInfo.HasMoreRows {
				return
			}
			if len(page.Requests) == 0 {
				yield(nil, fmt.Errorf("servicedesk: list from row %d: has_more_rows with an empty page", o.StartIndex))
				return
			}
			o.StartIndex += len(page.Requests)
		}
	}
}

// Close closes the request with closure information (which may be nil).
// A close that was retried after an attempt that may have taken effect (its
// answer lost, or a 502, 503 or 504) and is then answered "Request is
// already closed" has done its work and returns nil. The same answer
// otherwise (to a first attempt, or after a 429 or a 401, which SDP did not
// act on) is an *Error matching ErrAlreadyClosed. Closure rules can make fields mandatory: ErrClosureRule
// and ErrMandatoryField.
func (s *RequestsService) Close(ctx context.Context, id ID, info *ClosureInfo) error {
	if err := checkRequestID(id); err != nil {
		return err
	}
	if info == nil {
		info = &ClosureInfo{}
	}
	in := requestBody{struct {
		ClosureInfo *ClosureInfo `json:"closure_info"`
	}{info}}
	res, err := s.client.do(ctx, call{method: http.MethodPut, path: "requests/" + string(id) + "/close", input: in}, &envelope{})
	if err != nil && res != nil && res.ambiguous && errors.Is(err, ErrAlreadyClosed) {
		return nil
	}
	return err
}

// noteKey is the JSON key of a note: note on-premises, request_note on
// cloud.
func (c *Client) noteKey() string {
	if c.edition == Cloud {
		return "request_note"
	}
	return "note"
}

type noteAnswer struct {
	envelope
	Note        *Note   `json:"note"`
	RequestNote *Note   `json:"request_note"`
	Notes       []*Note `json:"notes"`
	ReqNotes    []*Note `json:"request_notes"`
}

// AddNote adds a note to the request. The note is sent under the
// edition's key (note on-premises, request_note on cloud); either key is
// read back.
func (s *RequestsService) AddNote(ctx context.Context, id ID, note *NoteInput) (*Note, error) {
	if err := checkRequestID(id); err != nil {
		return nil, err
	}
	if note == nil {
		return nil, errors.New("servicedesk: nil *NoteInput")
	}
	if strings.TrimSpace(note.Description) == "" {
		return nil, errors.New("servicedesk: note.description is empty")
	}
	body := map[string]*NoteInput{s.client.noteKey(): note}
	var out noteAnswer
	if _, err := s.client.do(ctx, call{method: http.MethodPost, path: "requests/" + string(id) + "/notes", input: body}, &out); err != nil {
		return nil, err
	}
	n := out.Note
	if n == nil {
		n = out.RequestNote
	}
	if n == nil {
		return nil, fmt.Errorf("servicedesk: answer has no note: %w", ErrUnexpectedContent)
	}
	return n, nil
}

// ListNotes reads one page of the request's notes. opts may be nil.
func (s *RequestsService) ListNotes(ctx context.Context, id ID, opts *ListOptions) (*NoteList, error) {
	if err := checkRequestID(id); err != nil {
		return nil, err
	}
	q, err := listValues(opts)
	if err != nil {
		return nil, err
	}
	var out noteAnswer
	res, err := s.client.do(ctx, call{method: http.MethodGet, path: "requests/" + string(id) + "/notes", query: q}, &out)
	if err != nil {
		return nil, err
	}
	l := &NoteList{Notes: out.Notes}
	if l.Notes == nil {
		l.Notes = out.ReqNotes
	}
	if err := nullRow("notes", l.Notes); err != nil {
		return nil, err
	}
	if res.listInfo != nil {
		l.ListInfo = *res.listInfo
	}
	return l, nil
}

// nullRow reports a null row of a list answer: callers never get a nil
// row.
func nullRow[T any](what string, rows []*T) error {
	for i, r := range rows {
		if r == nil {
			return fmt.Errorf("servicedesk: %s[%d] of the answer is null: %w", what, i, ErrUnexpectedContent)
		}
	}
	return nil
}
