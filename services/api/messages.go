package api

import (
	"net/http"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/services/wire"
)

type editMessageRequest struct {
	Content string `json:"content"`
}

// editMessage answers PUT /messages/{id}: the author replaces the content
// of an approved message; the answer is the message object after the edit.
func (a *API) editMessage(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	var req editMessageRequest
	if err := httpx.ReadJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := decide.CheckContent(req.Content, caller.App.Limits.MaxContentBytes); err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	out, err := a.Messages.Edit(r.Context(), a.messageCommand(caller, r, req.Content))
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	if !a.projected(w, r, out) {
		return
	}
	e := out.Events[0]
	p, err := e.Payload()
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, wire.MessageEdited(p.(*events.MessageEdited), e.At))
}

// deleteMessage answers DELETE /messages/{id}: the author, or an admin of
// the conversation, leaves a tombstone in the message's place.
func (a *API) deleteMessage(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	out, err := a.Messages.Delete(r.Context(), a.messageCommand(caller, r, ""))
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	if !a.projected(w, r, out) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// messageCommand is the request's command on the message in its path. A
// REST call has no client id: the event's random id serves as one, as
// every call is a new command.
func (a *API) messageCommand(caller *httpx.Caller, r *http.Request, content string) decide.MessageCommand {
	id := events.NewEventID()
	return decide.MessageCommand{App: caller.App.Name, Actor: actorOf(caller), EventID: id, ClientMsgID: id,
		MessageID: r.PathValue("id"), Content: content, At: a.Now()}
}
