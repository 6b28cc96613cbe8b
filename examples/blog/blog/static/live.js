// Live updates for the index page: follow the server's event stream and apply
// each change without a reload. The browser's EventSource reconnects by itself
// and sends the id of the last event it received (Last-Event-ID), so the server
// replays whatever was published in between.
(() => {
  "use strict";
  const list = document.getElementById("posts");
  const status = document.getElementById("live-status");
  const empty = document.getElementById("no-posts");
  if (!list || !("EventSource" in window)) return;

  const setStatus = (state, text) => {
    status.className = `live-status ${state}`;
    status.textContent = text;
  };
  const cardUrl = (id) => list.dataset.cardUrl.replace(/\/0\/card$/, `/${id}/card`);
  const refreshEmpty = () => { empty.hidden = list.childElementCount > 0; };

  async function apply(change) {
    const current = document.getElementById(`post-${change.id}`);
    if (change.action === "deleted") {
      if (current) current.remove();
      refreshEmpty();
      return;
    }
    // The server renders the post (escaped, with an Edit link only for its author).
    const response = await fetch(cardUrl(change.id), { credentials: "same-origin" });
    if (response.status === 404) {  // deleted meanwhile
      if (current) current.remove();
    } else if (response.ok) {
      const template = document.createElement("template");
      template.innerHTML = (await response.text()).trim();
      const card = template.content.firstElementChild;
      card.classList.add("fresh");
      const existing = document.getElementById(`post-${change.id}`);
      if (existing) existing.replaceWith(card);
      else if (change.action === "created") list.prepend(card);
      setTimeout(() => card.classList.remove("fresh"), 1500);
    }
    refreshEmpty();
  }

  // Changes are applied one at a time, in the order they were published.
  let queue = Promise.resolve();
  const source = new EventSource(list.dataset.eventsUrl);
  // Under a one-request-at-a-time WSGI worker the server ends each stream with a
  // "poll" event and the browser comes back for more: that is not an outage.
  let polling = false;
  source.addEventListener("open", () => setStatus("live", "live"));
  source.addEventListener("poll", () => { polling = true; });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) setStatus("", "static");
    else if (polling) polling = false;  // the expected end of a polled stream
    else setStatus("reconnecting", "reconnecting…");
  });
  source.addEventListener("post", (event) => {
    const change = JSON.parse(event.data);
    queue = queue.then(() => apply(change)).catch((error) => console.error(error));
  });
})();
