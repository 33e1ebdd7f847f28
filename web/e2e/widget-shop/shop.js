// The other-origin shop's own script (tests/web/test_widgets_browser.py serves it): the consent banner
// (all, analytics only, or nothing) and the "personalise" switch, the product page's title and price,
// its wishlist button (a custom event) and its "Buy now" (a purchase with price, currency, quantity and
// order id). Everything about lists is the widgets'.
const tracker = graphrec.tracker;
const banner = document.getElementById("consent");
const personalise = document.getElementById("personalise");
const showControls = () => {
  banner.hidden = tracker.consentState !== "pending";
  personalise.hidden = !(tracker.purposes.analytics && !tracker.purposes.personalisation);
};
showControls();
document.getElementById("accept").addEventListener("click", () => {
  tracker.consent(true); // the widgets follow: the personal row reloads for the visitor made now
  showControls();
});
document.getElementById("analytics-only").addEventListener("click", () => {
  // events and impressions, but no list made from them: the personal row keeps its generic fallback
  tracker.consent({ analytics: true, personalisation: false });
  showControls();
});
personalise.addEventListener("click", () => {
  tracker.consent({ analytics: true, personalisation: true }); // the personal row reloads as the visitor's
  showControls();
});
document.getElementById("reject").addEventListener("click", () => {
  tracker.optOut();
  showControls();
});

const product = document.querySelector("[data-page-section=product]");
let described = Promise.resolve();
if (product) {
  const id = product.dataset.item;
  // the product's catalogue price and currency go on the page (data-price, data-currency): the checkout reads them
  described = tracker.client.item(id).then((it) => {
    document.getElementById("title").textContent = it.title || it.item_id;
    if (typeof it.price === "number" && it.currency) {
      document.getElementById("price").textContent = `${it.price.toFixed(2)} ${it.currency}`;
      product.dataset.price = String(it.price);
      product.dataset.currency = it.currency;
    }
  }, () => undefined);
  document.getElementById("wish").addEventListener("click", () => {
    // the shop's own action: a custom event naming the item (attributed to the list that showed it)
    tracker.track("wishlist_add", { itemId: id, properties: { from: "product_page" } });
  });
  document.getElementById("buy").addEventListener("click", () => {
    // the checkout: one line of this item, its price per unit, currency and quantity, and the order's id
    // (the server sums price x quantity per list that showed the item)
    const orderId = `o-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const price = product.dataset.price ? Number(product.dataset.price) : undefined;
    const currency = product.dataset.currency || undefined;
    const quantity = Math.max(1, Math.floor(Number(document.getElementById("qty").value) || 1));
    tracker.purchase([{ itemId: id }], { price, currency, quantity, orderId });
    void tracker.flush();
    const bought = document.getElementById("bought");
    bought.dataset.orderId = orderId;
    document.getElementById("order").textContent = orderId;
    bought.hidden = false;
  });
}

// the test waits for this: the product described and every widget of the page rendered once
Promise.all([described, graphrec.widgets.settled()]).then(() => (document.documentElement.dataset.ready = "1"));
