package servicedesk

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestTagLocks(t *testing.T) {
	var l tagLocks
	unlockA, err := l.lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	unlockB, err := l.lock(context.Background(), "b") // another tag is free
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, err := l.lock(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock of a held tag: %v, want the deadline", err)
	}
	got := make(chan func(), 1)
	go func() {
		u, err := l.lock(context.Background(), "a")
		if err != nil {
			t.Error(err)
		}
		got <- u
	}()
	unlockA()
	(<-got)()
	unlockB()
	if len(l.m) != 0 {
		t.Fatalf("%d tags left in the set after every unlock", len(l.m))
	}
}
