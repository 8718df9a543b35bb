/* captum-contrastive report.html: sortable tables and the image explorer.
   Offline: this script reads only the page itself (no request is made). */
(function () {
  "use strict";

  // ---- sortable tables ---------------------------------------------------
  function cellValue(row, column) {
    var cell = row.cells[column];
    if (!cell) return "";
    return cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent.trim();
  }

  function asNumber(text) {
    if (/^(|n\/a|nan|none)$/i.test(text)) return null;
    if (/^[-+]?inf(inity)?$/i.test(text)) return text.charAt(0) === "-" ? -Infinity : Infinity;
    var match = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?/i.exec(text);
    if (!match) return NaN;
    return parseFloat(match[0]);
  }

  function sortTable(table, column, descending) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var numeric = rows.every(function (row) {
      var value = asNumber(cellValue(row, column));
      return value === null || !isNaN(value);
    });
    rows.forEach(function (row, position) { row._position = position; });
    rows.sort(function (a, b) {
      var x = cellValue(a, column), y = cellValue(b, column), order;
      if (numeric) {
        x = asNumber(x); y = asNumber(y);
        if (x === null && y === null) order = 0;
        else if (x === null) return 1;
        else if (y === null) return -1;
        else order = x === y ? 0 : (x < y ? -1 : 1);
      } else {
        order = x.localeCompare(y, undefined, { numeric: true });
      }
      if (descending) order = -order;
      return order || a._position - b._position;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      th.setAttribute("aria-sort", index === column ? (descending ? "descending" : "ascending") : "none");
    });
  }

  function makeSortable(table) {
    if (!table.tHead || !table.tBodies.length) return;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.title = "sort by this column";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      th.setAttribute("aria-sort", "none");
      button.addEventListener("click", function () {
        sortTable(table, column, th.getAttribute("aria-sort") === "ascending");
      });
    });
  }

  function makeFilterable(input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var text = row.textContent.toLowerCase();
        row.hidden = !words.every(function (word) { return text.indexOf(word) >= 0; });
      });
    });
  }

  // ---- the image explorer ------------------------------------------------
  var explorer = null;

  function element(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (name === "text") node.textContent = attributes[name];
      else node.setAttribute(name, attributes[name]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function picture(src, caption, title) {
    return element("figure", { class: "picture" }, [
      element("img", { src: src, alt: caption, title: title || caption, loading: "lazy" }),
      element("figcaption", { text: caption })
    ]);
  }

  function formatRho(value) {
    return value === null || value === undefined ? "n/a" : value.toFixed(3);
  }

  function buildCard(data, card, runs) {
    var image = data.images[card.image];
    var run = runs[card.run];
    var anchor = "card-" + card.id;
    var node = element("article", {
      class: "card", id: anchor, tabindex: "0",
      "data-run": card.run, "data-success": card.success ? "1" : "0"
    });
    var title = element("h3", { text: card.run + " · image #" + image.index });
    var link = element("a", { class: "permalink", href: "#" + anchor, title: "permalink to this card", text: "#" });
    var badge = element("span", { class: "badge " + (card.success ? "good" : "bad"),
                                  text: card.success ? "fooled" : "not fooled" });
    node.appendChild(element("header", {}, [link, title, badge]));
    var facts = element("p", { class: "classes" });
    [["true", image.true], ["adversarial", card.adversarialClass], ["runner-up (clean)", image.runnerUp]]
      .forEach(function (pair, position) {
        if (position) facts.appendChild(document.createTextNode(" · "));
        facts.appendChild(document.createTextNode(pair[0] + " "));
        facts.appendChild(element("b", { class: "class-" + pair[0].split(" ")[0], text: pair[1] }));
      });
    facts.appendChild(document.createTextNode(
      " · " + (run.setting || card.run) + " · L2 " + card.l2.toFixed(3) + " · L∞ " + card.linf.toFixed(4)));
    node.appendChild(facts);
    var pictures = element("div", { class: "pictures" }, [
      picture(image.clean, "clean", "clean image, class " + image.true),
      picture(card.adversarial, "adversarial", "adversarial image, predicted " + card.adversarialClass),
      picture(card.perturbation, "perturbation ×" + card.gain.toFixed(0),
              "adversarial − clean, amplified " + card.gain.toFixed(1) + " times around grey")
    ]);
    var maps = element("div", { class: "maps" });
    maps.appendChild(element("div", { class: "row-labels" }, [
      element("span", { class: "method-name", text: "method" }),
      element("span", { class: "rho", text: "ρ clean/adv" }),
      element("span", { text: "clean @ " + image.true }),
      element("span", { text: "adv. @ " + card.adversarialClass })
    ]));
    data.methods.forEach(function (method) {
      var cleanContrast = method.contrastive ? "vs " + image.runnerUp : "no contrast";
      var advContrast = method.contrastive ? "vs " + card.adversarialRunnerUp : "no contrast";
      var column = element("figure", { class: "method", "data-method": method.key }, [
        element("span", { class: "method-name", text: method.label }),
        element("span", { class: "rho", text: "ρ " + formatRho(card.rho[method.key]) }),
        element("img", { src: image.maps[method.key], loading: "lazy",
                         alt: method.label + ", clean image, class " + image.true + ", " + cleanContrast,
                         title: method.label + ": clean image, class " + image.true + ", " + cleanContrast }),
        element("small", { text: cleanContrast }),
        card.maps[method.key]
          ? element("img", { src: card.maps[method.key], loading: "lazy",
                             alt: method.label + ", adversarial image, class " + card.adversarialClass + ", " + advContrast,
                             title: method.label + ": adversarial image, class " + card.adversarialClass + ", " + advContrast })
          : element("span", { class: "missing", text: "no map" }),
        element("small", { text: advContrast })
      ]);
      maps.appendChild(column);
    });
    node.appendChild(element("div", { class: "card-body" }, [pictures, maps]));
    node._card = card;
    return node;
  }

  function sortKey(card, first, second) {
    var a = card.rho[first];
    if (a === null || a === undefined) return null;
    if (!second) return a;
    var b = card.rho[second];
    return b === null || b === undefined ? null : a - b;
  }

  function applyControls() {
    var form = explorer.form;
    var run = form.elements.run.value;
    var success = form.elements.success.value;
    var shownMethods = {};
    Array.prototype.forEach.call(form.querySelectorAll("input[name=method]"), function (box) {
      shownMethods[box.value] = box.checked;
    });
    var first = form.elements.sort.value;
    var second = form.elements.minus.value;
    var descending = form.elements.order.value === "descending";
    var nodes = explorer.nodes.slice();
    if (first) {
      nodes.sort(function (x, y) {
        var a = sortKey(x._card, first, second), b = sortKey(y._card, first, second);
        if (a === null && b === null) return x._order - y._order;
        if (a === null) return 1;
        if (b === null) return -1;
        return (descending ? b - a : a - b) || x._order - y._order;
      });
    }
    var visible = 0;
    nodes.forEach(function (node) {
      var card = node._card;
      var show = (!run || card.run === run) &&
        (!success || (success === "fooled") === card.success);
      node.hidden = !show;
      if (show) visible += 1;
    });
    // Reorder only when the order changed: moving a node drops its focus.
    var placed = explorer.list.children;
    var same = placed.length === nodes.length &&
      nodes.every(function (node, position) { return placed[position] === node; });
    if (!same) {
      var focused = document.activeElement;
      nodes.forEach(function (node) { explorer.list.appendChild(node); });
      if (focused && focused !== document.body) focused.focus({ preventScroll: true });
    }
    explorer.container.querySelectorAll(".method").forEach(function (column) {
      column.hidden = !shownMethods[column.getAttribute("data-method")];
    });
    explorer.count.textContent = visible + " of " + nodes.length + " cards shown";
  }

  function visibleCards() {
    return explorer.nodes.filter(function (node) { return !node.hidden; })
      .sort(function (a, b) {
        return a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1;
      });
  }

  function focusCard(node) {
    if (!node) return;
    explorer.nodes.forEach(function (other) { other.classList.remove("current"); });
    node.classList.add("current");
    node.focus({ preventScroll: true });
    node.scrollIntoView({ block: "nearest" });
    if (history.replaceState) history.replaceState(null, "", "#" + node.id);
  }

  function step(direction) {
    var cards = visibleCards();
    if (!cards.length) return;
    var current = cards.indexOf(document.activeElement.closest ? document.activeElement.closest(".card") : null);
    if (current < 0) current = cards.findIndex(function (n) { return n.classList.contains("current"); });
    var next = current < 0 ? 0 : Math.min(cards.length - 1, Math.max(0, current + direction));
    focusCard(cards[next]);
  }

  function onKey(event) {
    var target = event.target;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (target && /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(target.tagName)) return;
    var inCard = Boolean(target && target.closest && target.closest(".card"));
    if (event.key === "j" || (event.key === "ArrowDown" && inCard)) {
      step(1); event.preventDefault();
    } else if (event.key === "k" || (event.key === "ArrowUp" && inCard)) {
      step(-1); event.preventDefault();
    }
  }

  function showHash() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!id || id.indexOf("card-") !== 0 || !explorer) return;
    var node = document.getElementById(id);
    if (!node) return;
    if (node.hidden) {
      explorer.form.reset();
      applyControls();
    }
    focusCard(node);
  }

  function option(value, text) { return element("option", { value: value, text: text }); }

  function buildExplorer() {
    var source = document.getElementById("explorer-data");
    var container = document.getElementById("explorer");
    if (!source || !container) return;
    var data = JSON.parse(source.textContent);
    var runs = {};
    data.runs.forEach(function (run) { runs[run.name] = run; });
    var form = document.getElementById("explorer-controls");
    var runSelect = form.elements.run;
    data.runs.forEach(function (run) {
      runSelect.appendChild(option(run.name, run.name + (run.setting ? " (" + run.setting + ")" : "")));
    });
    var methods = form.querySelector(".methods");
    data.methods.forEach(function (method) {
      var box = element("input", { type: "checkbox", name: "method", value: method.key, checked: "checked" });
      methods.appendChild(element("label", {}, [box, document.createTextNode(" " + method.label)]));
      form.elements.sort.appendChild(option(method.key, "ρ " + method.label));
      form.elements.minus.appendChild(option(method.key, "− ρ " + method.label));
    });
    var list = container.querySelector(".cards");
    var nodes = data.cards.map(function (card, position) {
      var node = buildCard(data, card, runs);
      node._order = position;
      list.appendChild(node);
      return node;
    });
    explorer = { form: form, nodes: nodes, list: list, container: container,
                 count: container.querySelector(".count") };
    form.addEventListener("change", applyControls);
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    form.addEventListener("reset", function () { setTimeout(applyControls, 0); });
    list.addEventListener("click", function (event) {
      var node = event.target.closest(".card");
      if (node && !event.target.closest("a")) focusCard(node);
    });
    applyControls();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.sortable").forEach(makeSortable);
    document.querySelectorAll("input.table-filter").forEach(makeFilterable);
    buildExplorer();
    document.addEventListener("keydown", onKey);
    window.addEventListener("hashchange", showHash);
    showHash();
    document.body.setAttribute("data-ready", "1");
  });
})();
