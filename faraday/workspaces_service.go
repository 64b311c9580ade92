package faraday

import "context"

// Workspace is a Faraday workspace as GET /_api/v3/ws returns it. Fields the
// SDK does not use (stats, scope, duration…) are ignored on decoding.
type Workspace struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Customer    string `json:"customer"`
	Active      bool   `json:"active"`
	// ReadOnly workspaces refuse every change with a 403 (see
	// ErrReadOnlyWorkspace).
	ReadOnly   bool `json:"readonly"`
	Public     bool `json:"public"`
	CreateDate Time `json:"create_date"`
	UpdateDate Time `json:"update_date"`
}

// WorkspacesService lists and reads workspaces. Use it through
// Client.Workspaces.
type WorkspacesService struct {
	client *Client
}

// List returns every workspace the user may see (GET /_api/v3/ws).
func (s *WorkspacesService) List(ctx context.Context) ([]Workspace, error) {
	var out []Workspace
	if err := s.client.do(ctx, call{method: "GET", path: "ws", idempotent: true}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Get returns one workspace by name (GET /_api/v3/ws/{name}); an unknown
// name fails with ErrNotFound.
func (s *WorkspacesService) Get(ctx context.Context, name string) (*Workspace, error) {
	ws, err := workspaceSegment(name)
	if err != nil {
		return nil, err
	}
	var out Workspace
	if err := s.client.do(ctx, call{method: "GET", path: "ws/" + ws, idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
