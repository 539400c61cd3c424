"""The evaluation set for "me too" matching: pairs of alarm and idea texts as people type them into
/cx-alarm, labelled by whether they report the same problem (a suggestion to join would be right).

Written before any matcher was tried, and not tuned to one. Kinds of pair:
- same: the same problem in other words that share its key words; with typos; in other word orders;
  with accents typed or left out; in French, German and Spanish;
- paraphrase: the same problem with hardly a word in common (a word matcher is expected to miss
  most of these: a missed suggestion costs less than a wrong one);
- different: shared words with another meaning, the same area with another problem, or unrelated.
"""

from __future__ import annotations

from typing import NamedTuple


class Pair(NamedTuple):
    first: str
    second: str
    same: bool
    why: str


SAME = "same"
TYPO = "typo"
ACCENT = "accent"
PARAPHRASE = "paraphrase"
SHARED_WORDS = "shared words, other meaning"
SAME_AREA = "same area, other problem"
UNRELATED = "unrelated"

PAIRS: tuple[Pair, ...] = (
    # The same problem, sharing its key words --------------------------------------------------------------
    Pair("Checkout page returns a 500 error", "checkout 500 errors for several customers", True, SAME),
    Pair("Refund not received after 10 days", "customer says refund still not received", True, SAME),
    Pair("Password reset email never arrives", "password reset emails are not arriving", True, SAME),
    Pair("Mobile app crashes on login", "app crashing at login on mobile", True, SAME),
    Pair("Customers charged twice for March invoice", "double charged on the March invoice", True, SAME),
    Pair("Live chat widget is down", "live chat widget not loading", True, SAME),
    Pair("Order tracking page shows wrong delivery date", "tracking page delivery date is wrong", True, SAME),
    Pair(
        "Discount code SPRING20 not applying at checkout",
        "SPRING20 code doesn't apply in checkout",
        True,
        SAME,
    ),
    Pair("Invoice PDF download is broken", "can't download invoice PDF", True, SAME),
    Pair("Welcome email has a broken link", "broken link in the welcome email", True, SAME),
    Pair("Search returns no results for product names", "product search returns no results", True, SAME),
    Pair("Two-factor codes arrive late", "2FA codes arriving very late", True, SAME),
    Pair("Export to CSV times out for large accounts", "CSV export timing out on big accounts", True, SAME),
    Pair("Cancel subscription button does nothing", "subscription cancel button not working", True, SAME),
    Pair("Shipping cost shown twice in cart", "cart shows the shipping cost twice", True, SAME),
    Pair("Gift card balance shows zero", "gift card balance displayed as 0", True, SAME),
    Pair("Dark mode makes the pricing table unreadable", "pricing table unreadable in dark mode", True, SAME),
    Pair("Address autocomplete not working in checkout", "checkout address autocomplete broken", True, SAME),
    Pair("Calendar sync with Outlook fails", "outlook calendar sync failing", True, SAME),
    Pair(
        "Support phone line goes straight to voicemail", "support line always goes to voicemail", True, SAME
    ),
    Pair("Loyalty points not credited after purchase", "loyalty points missing after purchase", True, SAME),
    Pair(
        "Delivery drivers can't find the new warehouse",
        "drivers cannot find the new warehouse entrance",
        True,
        SAME,
    ),
    Pair("Webhooks delayed by hours", "webhook deliveries delayed several hours", True, SAME),
    Pair(
        "SSO login loops back to the sign-in page", "SSO sign-in keeps looping back to login page", True, SAME
    ),
    # With typos -----------------------------------------------------------------------------------------------
    Pair("Refund not recieved after 10 days", "refund not received after ten days", True, TYPO),
    Pair("Chekout page throws 500", "checkout page throws a 500", True, TYPO),
    Pair("pasword reset link expired imediately", "password reset link expires immediately", True, TYPO),
    Pair("invocie totals are wrong", "invoice totals wrong", True, TYPO),
    Pair(
        "subscripton renewal charged wrong amount",
        "subscription renewal charged the wrong amount",
        True,
        TYPO,
    ),
    Pair("notifcations not sent to android", "notifications not being sent on android", True, TYPO),
    Pair("the welcom email never came", "welcome email never came", True, TYPO),
    Pair("custmer portal very slow today", "customer portal is very slow today", True, TYPO),
    # Accents typed or not, and other languages -------------------------------------------------------------
    Pair("Café menu prices wrong in the app", "cafe menu prices are wrong in app", True, ACCENT),
    Pair("Le paiement échoue à la caisse", "le paiement echoue a la caisse", True, ACCENT),
    Pair("La facture de mars est fausse", "facture de mars fausse pour plusieurs clients", True, ACCENT),
    Pair("Bestellung nicht angekommen", "bestellung ist nicht angekommen", True, ACCENT),
    Pair("Rückerstattung fehlt seit zwei Wochen", "ruckerstattung fehlt seit 2 wochen", True, ACCENT),
    Pair("El pago falla en la página de compra", "el pago falla en la pagina de compra", True, ACCENT),
    Pair("No llega el correo de confirmación", "no llega el correo de confirmacion del pedido", True, ACCENT),
    Pair("São Paulo store shows wrong opening hours", "Sao Paulo store opening hours wrong", True, ACCENT),
    Pair("Zürich warehouse orders stuck", "zurich warehouse orders are stuck", True, ACCENT),
    # The same problem in other words (paraphrases) ---------------------------------------------------------
    Pair("checkout 500s", "can't pay, payment page errors", True, PARAPHRASE),
    Pair("App crashes on login", "the app closes itself when I sign in", True, PARAPHRASE),
    Pair(
        "Money not returned after cancelled order", "refund missing for a cancelled order", True, PARAPHRASE
    ),
    Pair("Site is down", "website unreachable for everyone", True, PARAPHRASE),
    Pair("Nobody answers the support phone", "support line goes straight to voicemail", True, PARAPHRASE),
    Pair("Emails land in spam", "our messages end up in junk folders", True, PARAPHRASE),
    Pair("Parcel never showed up", "delivery never arrived", True, PARAPHRASE),
    Pair("Prices wrong after currency switch", "switching to EUR shows the wrong prices", True, PARAPHRASE),
    # Shared words, another meaning -------------------------------------------------------------------------
    Pair("Refund button missing", "refund policy unclear", False, SHARED_WORDS),
    Pair("Checkout page returns 500 error", "checkout page copy has a typo", False, SHARED_WORDS),
    Pair("Password reset email never arrives", "password rules are too strict", False, SHARED_WORDS),
    Pair("Mobile app crashes on login", "mobile app icon looks blurry", False, SHARED_WORDS),
    Pair("Invoice PDF download is broken", "invoice due date should be 30 days", False, SHARED_WORDS),
    Pair("Live chat widget is down", "live chat agents are rude", False, SHARED_WORDS),
    Pair(
        "Order tracking page shows wrong date",
        "order confirmation page shows wrong currency",
        False,
        SHARED_WORDS,
    ),
    Pair("Shipping cost shown twice in cart", "shipping takes two weeks to Canada", False, SHARED_WORDS),
    Pair("Gift card balance shows zero", "gift card design is outdated", False, SHARED_WORDS),
    Pair(
        "Discount code not applying at checkout",
        "discount code emails sent to wrong segment",
        False,
        SHARED_WORDS,
    ),
    Pair("Search returns no results", "search results page is slow", False, SHARED_WORDS),
    Pair("Cancel subscription button does nothing", "cancel reasons survey is too long", False, SHARED_WORDS),
    Pair("Customers charged twice", "customers asking for twice-monthly billing", False, SHARED_WORDS),
    Pair("Export to CSV times out", "export should include the customer's phone", False, SHARED_WORDS),
    Pair("Welcome email has a broken link", "welcome email should mention the app", False, SHARED_WORDS),
    Pair(
        "Support phone line goes to voicemail",
        "support phone number missing from website",
        False,
        SHARED_WORDS,
    ),
    Pair("Loyalty points not credited", "loyalty program terms confusing", False, SHARED_WORDS),
    Pair(
        "Calendar sync with Outlook fails",
        "Outlook add-in asks for too many permissions",
        False,
        SHARED_WORDS,
    ),
    Pair(
        "Refund not received after 10 days", "refund received but for the wrong amount", False, SHARED_WORDS
    ),
    Pair("Le paiement échoue à la caisse", "la caisse ferme trop tôt le dimanche", False, SHARED_WORDS),
    Pair("Bestellung nicht angekommen", "Bestellung doppelt angekommen", False, SHARED_WORDS),
    Pair(
        "Dark mode makes the pricing table unreadable",
        "pricing table missing the enterprise plan",
        False,
        SHARED_WORDS,
    ),
    # The same area, another problem ------------------------------------------------------------------------
    Pair("Password reset email never arrives", "welcome email has a typo", False, SAME_AREA),
    Pair("Checkout page returns a 500 error", "cart forgets items after logout", False, SAME_AREA),
    Pair("Invoice PDF download is broken", "VAT number not shown on invoices", False, SAME_AREA),
    Pair("Mobile app crashes on login", "push notifications arrive twice", False, SAME_AREA),
    Pair("Live chat widget is down", "chatbot gives outdated return policy", False, SAME_AREA),
    Pair("Delivery drivers can't find the warehouse", "parcels left in the rain", False, SAME_AREA),
    Pair("SSO login loops", "session expires after five minutes", False, SAME_AREA),
    Pair("Webhooks delayed by hours", "API rate limits too low for partners", False, SAME_AREA),
    Pair("Two-factor codes arrive late", "can't change the phone number for 2FA", False, SAME_AREA),
    Pair("Gift card balance shows zero", "gift cards can't be used with discount codes", False, SAME_AREA),
    # Unrelated ---------------------------------------------------------------------------------------------
    Pair("Refund not received after 10 days", "Live chat widget is down", False, UNRELATED),
    Pair("Checkout page returns a 500 error", "Welcome email has a broken link", False, UNRELATED),
    Pair("Mobile app crashes on login", "Shipping cost shown twice in cart", False, UNRELATED),
    Pair(
        "Password reset email never arrives", "Dark mode makes the pricing table unreadable", False, UNRELATED
    ),
    Pair("Café menu prices wrong", "Zürich warehouse orders stuck", False, UNRELATED),
    Pair("Bestellung nicht angekommen", "El pago falla en la página de compra", False, UNRELATED),
    Pair("The lobby plant is wilting", "Support phone line goes to voicemail", False, UNRELATED),
    Pair("Customers charged twice for March", "Calendar sync with Outlook fails", False, UNRELATED),
    Pair("Search returns no results", "Loyalty points not credited after purchase", False, UNRELATED),
    Pair("Export to CSV times out", "Discount code SPRING20 not applying", False, UNRELATED),
)
