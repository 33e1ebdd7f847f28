// The other-origin shop's own script (tests/web/test_widgets_browser.py serves it): the consent banner,
// the product page's title and its "Buy now". Everything about lists is the widgets'.
const tracker = graphrec.tracker;
const banner = document.getElementById("consent");
banner.hidden = tracker.consentState !== "pending";
document.getElementById("accept").addEventListener("click", () => {
  tracker.consent(true); // the widgets follow: the personal row reloads for the visitor made now
  banner.hidden = true;
});
document.getElementById("reject").addEventListener("click", () => {
  tracker.optOut();
  banner.hidden = true;
});

const product = document.querySelector("[data-page-section=product]");
if (product) {
  const id = product.dataset.item;
  tracker.client.item(id).then((it) => {
    document.getElementById("title").textContent = it.title || it.item_id;
    if (typeof it.price === "number") document.getElementById("price").textContent = `${it.price.toFixed(2)} ${it.currency || ""}`;
    product.dataset.price = String(it.price);
    product.dataset.currency = it.currency || "";
  }, () => undefined);
  document.getElementById("buy").addEventListener("click", () => {
    // the checkout: one purchase of this item (the server attributes it to the list that showed it)
    tracker.purchase([{ itemId: id }]);
    void tracker.flush();
    document.getElementById("bought").hidden = false;
  });
}

// the test waits for this: every widget of the page has rendered once
graphrec.widgets.settled().then(() => (document.documentElement.dataset.ready = "1"));
