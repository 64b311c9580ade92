package servicedesk

import (
	"encoding/json"
)

// Ref is a lookup value: an SDP entity named by id or name. On writes SDP
// prefers the id when both are given.
type Ref struct {
	ID   ID     `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// UserRef names a user on writes (requester, technician) by id, name or
// email address.
type UserRef struct {
	ID      ID     `json:"id,omitempty"`
	Name    string `json:"name,omitempty"`
	EmailID string `json:"email_id,omitempty"`
}

// User is a user as SDP returns it inside requests and notes.
type User struct {
	ID           ID     `json:"id"`
	Name         string `json:"name"`
	EmailID      string `json:"email_id"`
	Phone        string `json:"phone"`
	Mobile       string `json:"mobile"`
	Department   *Ref   `json:"department"`
	IsTechnician bool   `json:"is_technician"`
	PhotoURL     string `json:"photo_url"`
	// The fields below come with user and technician lookups
	// (c.Users, c.Technicians); requests rarely carry them.
	LoginName  string `json:"login_name,omitempty"`
	FirstName  string `json:"first_name,omitempty"`
	LastName   string `json:"last_name,omitempty"`
	JobTitle   string `json:"jobtitle,omitempty"`
	EmployeeID string `json:"employee_id,omitempty"`
	// IsVIPUser is is_vipuser on-premises and is_vip_user on cloud.
	IsVIPUser bool `json:"-"`
}

// UnmarshalJSON reads both editions' VIP keys.
func (u *User) UnmarshalJSON(b []byte) error {
	type plain User
	var w struct {
		plain
		OnPrem *bool `json:"is_vipuser"`
		Cloud  *bool `json:"is_vip_user"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*u = User(w.plain)
	u.IsVIPUser = (w.OnPrem != nil && *w.OnPrem) || (w.Cloud != nil && *w.Cloud)
	return nil
}

// Status is a request status.
type Status struct {
	ID           ID     `json:"id"`
	Name         string `json:"name"`
	Color        string `json:"color,omitempty"`
	InProgress   bool   `json:"in_progress,omitempty"`
	InternalName string `json:"internal_name,omitempty"` // Open, Onhold, Resolved, Closed, …
	StopTimer    bool   `json:"stop_timer,omitempty"`
}

// Priority is a request priority.
type Priority struct {
	ID    ID     `json:"id"`
	Name  string `json:"name"`
	Color string `json:"color,omitempty"`
}

// Template is the request template a request was made from.
type Template struct {
	ID                ID     `json:"id"`
	Name              string `json:"name"`
	IsServiceTemplate bool   `json:"is_service_template,omitempty"`
	ServiceCategory   *Ref   `json:"service_category,omitempty"`
}

// Group is a support group.
type Group struct {
	ID      ID     `json:"id"`
	Name    string `json:"name"`
	Site    *Ref   `json:"site,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
}

// Resolution is a request's resolution text (HTML).
type Resolution struct {
	Content string `json:"content"`
}

// ClosureInfo is how a request was or is to be closed.
type ClosureInfo struct {
	RequesterAckResolution bool   `json:"requester_ack_resolution,omitempty"`
	RequesterAckComments   string `json:"requester_ack_comments,omitempty"`
	ClosureComments        string `json:"closure_comments,omitempty"`
	ClosureCode            *Ref   `json:"closure_code,omitempty"`
}

// Request is a request (ticket) as SDP returns it. Pointer fields are nil
// when SDP sends null or leaves them out. On-premises requests have no
// DisplayID (their ID is the number users see); cloud requests show
// DisplayID in the UI and use the long ID in URLs and the API.
type Request struct {
	ID               ID       `json:"id"`
	DisplayID        ID       `json:"display_id,omitempty"`
	Subject          string   `json:"subject"`
	Description      string   `json:"description,omitempty"` // HTML
	ShortDescription string   `json:"short_description,omitempty"`
	ImpactDetails    string   `json:"impact_details,omitempty"`
	EmailIDsToNotify []string `json:"email_ids_to_notify,omitempty"`

	Requester  *User `json:"requester,omitempty"`
	Technician *User `json:"technician,omitempty"`
	CreatedBy  *User `json:"created_by,omitempty"`

	Status          *Status   `json:"status,omitempty"`
	Priority        *Priority `json:"priority,omitempty"`
	Template        *Template `json:"template,omitempty"`
	Group           *Group    `json:"group,omitempty"`
	Category        *Ref      `json:"category,omitempty"`
	Subcategory     *Ref      `json:"subcategory,omitempty"`
	Item            *Ref      `json:"item,omitempty"`
	Site            *Ref      `json:"site,omitempty"`
	Urgency         *Ref      `json:"urgency,omitempty"`
	Impact          *Ref      `json:"impact,omitempty"`
	Level           *Ref      `json:"level,omitempty"`
	Mode            *Ref      `json:"mode,omitempty"`
	RequestType     *Ref      `json:"request_type,omitempty"`
	ServiceCategory *Ref      `json:"service_category,omitempty"`
	SLA             *Ref      `json:"sla,omitempty"`
	Assets          []Ref     `json:"assets,omitempty"`

	CreatedTime            *DateTime `json:"created_time,omitempty"`
	LastUpdatedTime        *DateTime `json:"last_updated_time,omitempty"`
	AssignedTime           *DateTime `json:"assigned_time,omitempty"`
	DueByTime              *DateTime `json:"due_by_time,omitempty"`
	FirstResponseDueByTime *DateTime `json:"first_response_due_by_time,omitempty"`
	RespondedTime          *DateTime `json:"responded_time,omitempty"`
	ResolvedTime           *DateTime `json:"resolved_time,omitempty"`
	CompletedTime          *DateTime `json:"completed_time,omitempty"`
	ScheduledStartTime     *DateTime `json:"scheduled_start_time,omitempty"`
	ScheduledEndTime       *DateTime `json:"scheduled_end_time,omitempty"`
	DeletedTime            *DateTime `json:"deleted_time,omitempty"`
	OnholdTime             *Duration `json:"onhold_time,omitempty"`
	TimeElapsed            *Duration `json:"time_elapsed,omitempty"`

	Resolution  *Resolution  `json:"resolution,omitempty"`
	ClosureInfo *ClosureInfo `json:"closure_info,omitempty"`

	HasNotes          bool `json:"has_notes,omitempty"`
	HasAttachments    bool `json:"has_attachments,omitempty"`
	HasLinkedRequests bool `json:"has_linked_requests,omitempty"`
	IsOverdue         bool `json:"is_overdue,omitempty"`
	IsServiceRequest  bool `json:"is_service_request,omitempty"`
	IsTrashed         bool `json:"is_trashed,omitempty"`
	IsRead            bool `json:"is_read,omitempty"`
	IsEscalated       bool `json:"is_escalated,omitempty"`
	IsReopened        bool `json:"is_reopened,omitempty"`
	IsFCR             bool `json:"is_fcr,omitempty"`

	// UDFFields holds user-defined fields by key (udf_sline_301,
	// txt_my_field, …). Values are as JSON decodes them into any: strings,
	// float64, bool, nil, or maps for {value, display_value} dates.
	UDFFields map[string]any `json:"udf_fields,omitempty"`
}

// RequestInput is what Create and Update send. Empty fields are left out,
// so an Update changes only the fields set; lookups are named by id or
// name, users by id, name or email address.
type RequestInput struct {
	Subject          string   `json:"subject,omitempty"`     // plain text, one line, at most 250 characters
	Description      string   `json:"description,omitempty"` // HTML
	ImpactDetails    string   `json:"impact_details,omitempty"`
	EmailIDsToNotify []string `json:"email_ids_to_notify,omitempty"`
	UpdateReason     string   `json:"update_reason,omitempty"`
	// StatusChangeComments explains a status change made by this write.
	StatusChangeComments string `json:"status_change_comments,omitempty"`

	Requester  *UserRef `json:"requester,omitempty"`
	Technician *UserRef `json:"technician,omitempty"`

	Template        *TemplateRef `json:"template,omitempty"`
	Status          *Ref         `json:"status,omitempty"`
	Priority        *Ref         `json:"priority,omitempty"`
	Urgency         *Ref         `json:"urgency,omitempty"`
	Impact          *Ref         `json:"impact,omitempty"`
	Mode            *Ref         `json:"mode,omitempty"`
	Level           *Ref         `json:"level,omitempty"`
	RequestType     *Ref         `json:"request_type,omitempty"`
	Site            *Ref         `json:"site,omitempty"`
	Group           *Ref         `json:"group,omitempty"`
	Category        *Ref         `json:"category,omitempty"`
	Subcategory     *Ref         `json:"subcategory,omitempty"`
	Item            *Ref         `json:"item,omitempty"`
	ServiceCategory *Ref         `json:"service_category,omitempty"`

	DueByTime              *DateTime `json:"due_by_time,omitempty"`
	FirstResponseDueByTime *DateTime `json:"first_response_due_by_time,omitempty"`
	ScheduledStartTime     *DateTime `json:"scheduled_start_time,omitempty"`
	ScheduledEndTime       *DateTime `json:"scheduled_end_time,omitempty"`

	Resolution *Resolution `json:"resolution,omitempty"`

	// UDFFields sets user-defined fields; lookup UDFs take {"name": …},
	// date UDFs a *DateTime.
	UDFFields map[string]any `json:"udf_fields,omitempty"`
}

// TemplateRef names the template of a new request. Service templates also
// need IsServiceTemplate and their ServiceCategory.
type TemplateRef struct {
	ID                ID     `json:"id,omitempty"`
	Name              string `json:"name,omitempty"`
	IsServiceTemplate bool   `json:"is_service_template,omitempty"`
	ServiceCategory   *Ref   `json:"service_category,omitempty"`
}

// NoteRequest is the request a note belongs to, as SDP embeds it.
type NoteRequest struct {
	ID        ID     `json:"id"`
	Subject   string `json:"subject,omitempty"`
	DisplayID ID     `json:"display_id,omitempty"`
}

// Note is a request note as SDP returns it.
type Note struct {
	ID                  ID           `json:"id"`
	Description         string       `json:"description,omitempty"` // HTML
	ShowToRequester     bool         `json:"show_to_requester"`
	NotifyTechnician    bool         `json:"notify_technician,omitempty"`
	MarkFirstResponse   bool         `json:"mark_first_response,omitempty"`
	AddToLinkedRequests bool         `json:"add_to_linked_requests,omitempty"`
	HasAttachments      bool         `json:"has_attachments,omitempty"`
	Request             *NoteRequest `json:"request,omitempty"`
	AddedBy             *User        `json:"added_by,omitempty"`
	AddedTime           *DateTime    `json:"added_time,omitempty"`
	LastUpdatedBy       *User        `json:"last_updated_by,omitempty"`
	LastUpdatedTime     *DateTime    `json:"last_updated_time,omitempty"`
}

// NoteInput is what AddNote sends.
type NoteInput struct {
	Description         string `json:"description"` // HTML, required
	ShowToRequester     bool   `json:"show_to_requester"`
	NotifyTechnician    bool   `json:"notify_technician"`
	MarkFirstResponse   bool   `json:"mark_first_response"`
	AddToLinkedRequests bool   `json:"add_to_linked_requests"`
}
