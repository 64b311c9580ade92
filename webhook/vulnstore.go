package webhook

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/vulndesk/mesd/faraday"
)

// VulnStore reads and sets the status of Faraday vulns. Implementations
// must be safe for concurrent use. Setting a status a vuln already has
// must succeed.
type VulnStore interface {
	// Status returns the vuln's status, or an error wrapping
	// ErrVulnNotFound when there is no such vuln.
	Status(ctx context.Context, key faraday.VulnKey) (faraday.Status, error)
	// SetStatus sets the vuln's status, or fails with an error wrapping
	// ErrVulnNotFound when there is no such vuln.
	SetStatus(ctx context.Context, key faraday.VulnKey, status faraday.Status) error
}

// ErrVulnNotFound is wrapped by VulnStore errors about a vuln that does not
// exist. The handler answers such a delivery 200 "ignored" and does not
// retry it.
var ErrVulnNotFound = errors.New("webhook: vuln not found")

// MemoryVulnStore is a VulnStore in memory, for tests, demos and hosts
// that keep vuln statuses themselves.
type MemoryVulnStore struct {
	mu       sync.RWMutex
	statuses map[faraday.VulnKey]faraday.Status
	sets     int
}

// NewMemoryVulnStore returns an empty MemoryVulnStore.
func NewMemoryVulnStore() *MemoryVulnStore {
	return &MemoryVulnStore{statuses: map[faraday.VulnKey]faraday.Status{}}
}

// Put adds a vuln with a status, or replaces its status, without counting
// it as a change.
func (s *MemoryVulnStore) Put(key faraday.VulnKey, status faraday.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses[key] = status
}

// Status implements VulnStore.
func (s *MemoryVulnStore) Status(_ context.Context, key faraday.VulnKey) (faraday.Status, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.statuses[key]
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrVulnNotFound, key)
	}
	return st, nil
}

// SetStatus implements VulnStore.
func (s *MemoryVulnStore) SetStatus(_ context.Context, key faraday.VulnKey, status faraday.Status) error {
	if !status.Valid() {
		return fmt.Errorf("webhook: %w: %v", faraday.ErrInvalidStatus, status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.statuses[key]; !ok {
		return fmt.Errorf("%w: %s", ErrVulnNotFound, key)
	}
	s.statuses[key] = status
	s.sets++
	return nil
}

// Sets returns how many times SetStatus has changed a stored status.
func (s *MemoryVulnStore) Sets() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sets
}

// ClientVulnStore is a VulnStore over Faraday's REST API.
type ClientVulnStore struct {
	client *faraday.Client
}

// NewClientVulnStore returns a VulnStore that reads and sets statuses
// through c (GET and PATCH /_api/v3/ws/{ws}/vulns/{id}).
func NewClientVulnStore(c *faraday.Client) (*ClientVulnStore, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: NewClientVulnStore: the faraday client is nil", ErrInvalidConfig)
	}
	return &ClientVulnStore{client: c}, nil
}

// Status implements VulnStore.
func (s *ClientVulnStore) Status(ctx context.Context, key faraday.VulnKey) (faraday.Status, error) {
	v, err := s.client.Vulns.Get(ctx, key.Workspace, key.VulnID)
	if err != nil {
		return 0, clientErr(key, err)
	}
	return v.Status, nil
}

// SetStatus implements VulnStore.
func (s *ClientVulnStore) SetStatus(ctx context.Context, key faraday.VulnKey, status faraday.Status) error {
	_, err := s.client.Vulns.UpdateStatus(ctx, key.Workspace, key.VulnID, status)
	return clientErr(key, err)
}

func clientErr(key faraday.VulnKey, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, faraday.ErrNotFound) {
		return fmt.Errorf("%w: %s: %w", ErrVulnNotFound, key, err)
	}
	return err
}
