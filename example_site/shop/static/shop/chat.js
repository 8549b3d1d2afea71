/*
 * The example shop's conversational page: plain JavaScript on the conversations API.
 * POST conversations/ starts a session with the first message; later messages go to
 * conversations/{id}/messages/ and Like / Not for me to conversations/{id}/feedback/ (stored as like and
 * dislike events), each asking for k items (data-k). Each answer is {reply, recommendations: {items: [...],
 * intent: {constraints: [...]}}}: the constraints show as chips above the input, and closing one
 * posts {drop: [attribute]} to remove it.
 */
(function () {
  "use strict";
  var root = document.getElementById("chat");
  if (!root) { return; }
  var log = root.querySelector(".chat-log");
  var form = root.querySelector(".chat-form");
  var input = form.querySelector("input[name=message]");
  var k = parseInt(root.dataset.k, 10) || 6;
  var sessionId = null;

  function csrfToken() {
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function urlFor(template, id) {
    return template.replace("/0/", "/" + encodeURIComponent(id) + "/");
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) {
          var error = (data && data.error && data.error.message) || ("HTTP " + response.status);
          throw new Error(error);
        }
        return data;
      });
    });
  }

  function add(kind, text) {
    var li = document.createElement("li");
    li.className = "bubble " + kind;
    li.textContent = text;
    log.appendChild(li);
    li.scrollIntoView({ block: "end" });
    return li;
  }

  function itemCard(item) {
    var card = document.createElement("li");
    card.className = "chat-item";
    card.dataset.item = item.external_id;
    var link = document.createElement("a");
    link.href = root.dataset.itemUrl.replace("ITEM-ID", encodeURIComponent(item.external_id));
    link.textContent = item.title;
    var why = document.createElement("p");
    why.className = "llmrec-explanation";
    why.textContent = item.explanation;
    var like = document.createElement("button");
    like.type = "button";
    like.className = "like";
    like.title = "More like this";
    like.textContent = "Like";
    var dislike = document.createElement("button");
    dislike.type = "button";
    dislike.className = "dislike";
    dislike.title = "Less like this";
    dislike.textContent = "Not for me";
    like.addEventListener("click", function () { feedback(item, true, card); });
    dislike.addEventListener("click", function () { feedback(item, false, card); });
    card.append(link, why, like, dislike);
    return card;
  }

  // What the conversation asks for so far, as chips; closing one drops that constraint.
  var chips = document.createElement("div");
  chips.className = "chat-intent";
  chips.setAttribute("aria-label", "What you asked for");
  form.parentNode.insertBefore(chips, form);

  function showIntent(intent) {
    chips.textContent = "";
    ((intent && intent.constraints) || []).forEach(function (constraint) {
      var chip = document.createElement("span");
      chip.className = "chip";
      chip.dataset.attribute = constraint.attribute;
      chip.textContent = constraint.text + " ";
      var close = document.createElement("button");
      close.type = "button";
      close.className = "chip-drop";
      close.setAttribute("aria-label", "Drop " + constraint.text);
      close.textContent = "\u00d7";
      close.addEventListener("click", function () { drop(constraint); });
      chip.appendChild(close);
      chips.appendChild(chip);
    });
  }

  function drop(constraint) {
    if (!sessionId) { return; }
    add("me", "Drop \u201c" + constraint.text + "\u201d");
    busy(true);
    post(urlFor(root.dataset.messageUrl, sessionId), { message: "", drop: [constraint.attribute], k: k })
      .then(answer, fail).finally(function () { busy(false); });
  }

  function answer(data) {
    sessionId = data.session.id;
    showIntent(data.recommendations && data.recommendations.intent);
    var bubble = add("bot", data.reply);
    var items = (data.recommendations && data.recommendations.items) || [];
    if (items.length) {
      var list = document.createElement("ol");
      list.className = "chat-items";
      items.forEach(function (item) { list.appendChild(itemCard(item)); });
      bubble.appendChild(list);
    }
  }

  function fail(error) {
    add("error", "Sorry, that did not work: " + error.message);
  }

  function busy(on) {
    root.classList.toggle("busy", on);
    form.querySelector("button").disabled = on;
  }

  function feedback(item, liked, card) {
    if (!sessionId) { return; }
    card.classList.add(liked ? "liked" : "disliked");
    card.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    add("me", (liked ? "More like " : "Not ") + "\u201c" + item.title + "\u201d");
    busy(true);
    var body = liked ? { liked: [item.external_id], disliked: [], k: k } : { liked: [], disliked: [item.external_id], k: k };
    post(urlFor(root.dataset.feedbackUrl, sessionId), body).then(answer, fail).finally(function () { busy(false); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var message = input.value.trim();
    if (!message) { return; }
    add("me", message);
    input.value = "";
    busy(true);
    var request = sessionId
      ? post(urlFor(root.dataset.messageUrl, sessionId), { message: message, k: k })
      : post(root.dataset.startUrl, { message: message, k: k });
    request.then(answer, fail).finally(function () { busy(false); input.focus(); });
  });
})();
