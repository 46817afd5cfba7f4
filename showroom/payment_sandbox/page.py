"""The customer's pay page (HTML, Chinese and English), in the look of a bank's checkout.

Plain server-rendered HTML forms (no framework); a small inline script counts down to expiry and reloads the
page when the payment is finished elsewhere (test control, another device). Every value is escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping

from showroom.payment_sandbox.records import PaymentRow
from showroom.payment_sandbox.settings import SandboxSettings

METHOD_NAMES: Mapping[str, tuple[str, str]] = {
    "card": ("银行卡支付", "Bank card"),
    "mobile_banking": ("手机银行支付", "Mobile banking"),
    "ecny_wallet": ("数字人民币钱包", "Digital RMB (e-CNY) wallet"),
    "qr": ("扫码支付", "QR pay"),
}

STATUS_TEXT: Mapping[str, tuple[str, str]] = {
    "pending": ("待支付", "Awaiting payment"),
    "succeeded": ("支付成功", "Payment successful"),
    "failed": ("支付失败", "Payment failed"),
    "expired": ("订单已过期", "Payment expired"),
}

FAILURE_TEXT: Mapping[str, tuple[str, str]] = {
    "declined": ("交易被拒绝", "The payment was declined"),
    "insufficient_funds": ("余额不足", "Insufficient funds"),
    "limit_exceeded": ("超出限额", "The amount is over the limit"),
    "timeout": ("发卡行响应超时", "The bank did not answer in time"),
    "expired": ("支付时间已过", "The time to pay has run out"),
}

_CSS = """
*{box-sizing:border-box}
body{margin:0;font-family:"PingFang SC","Noto Sans CJK SC","Microsoft YaHei","Helvetica Neue",Arial,sans-serif;
 background:#f2f3f5;color:#1f2329;font-size:15px}
header{background:linear-gradient(90deg,#a4161a,#c8102e);color:#fff;padding:0 24px;height:64px;display:flex;
 align-items:center;justify-content:space-between;box-shadow:0 2px 6px rgba(0,0,0,.2)}
.brand{display:flex;align-items:center;gap:12px;font-size:20px;font-weight:600;letter-spacing:1px}
.logo{width:38px;height:38px;border-radius:50%;background:#fff;color:#c8102e;display:flex;align-items:center;
 justify-content:center;font-weight:700;font-size:20px;border:3px solid #f4c542}
.brand small{display:block;font-size:12px;font-weight:400;opacity:.85;letter-spacing:0}
.secure{font-size:13px;opacity:.95}
.test{background:#f4c542;color:#5a3b00;text-align:center;font-size:13px;padding:6px}
main{max-width:760px;margin:24px auto;padding:0 16px}
.card{background:#fff;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.08);margin-bottom:16px;overflow:hidden}
.card h2{margin:0;padding:14px 20px;font-size:16px;border-bottom:1px solid #eceef1;background:#fafbfc}
.summary{display:flex;justify-content:space-between;align-items:flex-end;padding:20px;gap:16px;flex-wrap:wrap}
.amount{font-size:34px;font-weight:700;color:#c8102e}
.amount .cur{font-size:20px;margin-right:4px}
dl{margin:0;display:grid;grid-template-columns:auto 1fr;gap:6px 16px;font-size:14px}
dt{color:#646a73}dd{margin:0;word-break:break-all}
.countdown{color:#646a73;font-size:13px;text-align:right}
.countdown b{color:#c8102e;font-size:16px}
.body{padding:20px}
label{display:block;font-size:13px;color:#646a73;margin:12px 0 4px}
input,select{width:100%;padding:10px 12px;border:1px solid #d0d3d9;border-radius:4px;font-size:16px;
 font-family:inherit}
input:focus,select:focus{outline:none;border-color:#c8102e;box-shadow:0 0 0 2px rgba(200,16,46,.15)}
.row{display:flex;gap:12px}.row>div{flex:1}
.buttons{display:flex;gap:12px;margin-top:20px}
button{flex:1;padding:12px;border-radius:4px;font-size:16px;cursor:pointer;font-family:inherit;border:1px solid #c8102e}
.primary{background:#c8102e;color:#fff}.primary:hover{background:#a4161a}
.secondary{background:#fff;color:#c8102e}
.hint{font-size:12px;color:#8f959e;margin-top:12px;line-height:1.6}
.error{background:#fdecee;color:#a4161a;border:1px solid #f5c2c8;padding:10px 12px;border-radius:4px;margin-bottom:12px}
.result{text-align:center;padding:36px 20px}
.result .icon{width:64px;height:64px;border-radius:50%;margin:0 auto 12px;display:flex;align-items:center;
 justify-content:center;font-size:36px;color:#fff}
.ok{background:#1f9d55}.bad{background:#c8102e}.late{background:#8f959e}
.result h3{margin:6px 0;font-size:20px}
.result a{display:inline-block;margin-top:16px;padding:10px 28px;background:#c8102e;color:#fff;border-radius:4px;
 text-decoration:none}
.qr{text-align:center}.qr img{width:200px;height:200px;border:1px solid #eceef1;padding:6px}
.bankapp{display:flex;align-items:center;gap:12px;padding:12px;border:1px solid #eceef1;border-radius:6px}
.bankapp .logo{flex:none}
.muted{color:#646a73;font-size:13px}.flush{padding-top:0}
.lock{vertical-align:-2px;margin-right:4px}
@media (max-width:560px){
 header{height:auto;min-height:56px;padding:8px 14px}
 .brand{font-size:16px;gap:8px}.logo{width:32px;height:32px;font-size:16px}
 .secure span{display:none}
 main{margin:14px auto;padding:0 10px}
 .summary{padding:16px}.amount{font-size:30px}
 .countdown{text-align:left}
 dl{grid-template-columns:1fr;gap:2px}dd{margin-bottom:8px}
 .buttons{flex-direction:column}
}
footer{text-align:center;font-size:12px;color:#8f959e;padding:8px 16px 32px;line-height:1.8}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def format_cny(amount_fen: int) -> str:
    """`12,345.67` for 1234567 fen."""
    yuan, fen = divmod(amount_fen, 100)
    return f"{yuan:,}.{fen:02d}"


def _bi(zh: str, en: str) -> str:
    return f'{_e(zh)} <span lang="en">{_e(en)}</span>'


def render_pay_page(
    payment: PaymentRow,
    settings: SandboxSettings,
    *,
    now_s: float,
    qr_png_url: str,
    status_url: str,
    nonce: str,
    error: tuple[str, str] | None = None,
) -> str:
    """The whole pay page for `payment` in its current state."""
    method_zh, method_en = METHOD_NAMES.get(payment.method, (payment.method, payment.method))
    remaining_s = max(0, int(payment.expires_s - now_s))
    pending = payment.status == "pending"
    summary = f"""
<section class="card">
  <h2>{_bi("订单信息", "Order")}</h2>
  <div class="summary">
    <div>
      <div class="amount"><span class="cur">¥</span>{format_cny(payment.amount_fen)}</div>
      <div class="muted">{_e(payment.currency)} · {_bi("应付金额", "amount due")}</div>
    </div>
    <div class="countdown" id="countdown" data-remaining="{remaining_s if pending else -1}">
      {_bi("剩余支付时间", "Time left to pay") if pending else ""}<br><b id="clock"></b>
    </div>
  </div>
  <div class="body flush">
  <dl>
    <dt>{_bi("商户", "Merchant")}</dt><dd>{_e(settings.merchant_name_zh)} / {_e(settings.merchant_name_en)}</dd>
    <dt>{_bi("商品", "Item")}</dt><dd>{_e(payment.description or "-")}</dd>
    <dt>{_bi("订单号", "Order no.")}</dt><dd>{_e(payment.order_id)}</dd>
    <dt>{_bi("交易流水号", "Payment no.")}</dt><dd>{_e(payment.id)}</dd>
    <dt>{_bi("支付方式", "Method")}</dt><dd>{_bi(method_zh, method_en)}</dd>
  </dl>
  </div>
</section>"""
    body = _method_form(payment, settings, qr_png_url, error) if pending else _result(payment)
    script = f"""
<script nonce="{_e(nonce)}">
(function(){{
  var el=document.getElementById('countdown'); var left=parseInt(el.dataset.remaining,10);
  var clock=document.getElementById('clock');
  function tick(){{ if(left<0){{return;}} var m=Math.floor(left/60), s=left%60;
    clock.textContent=(m<10?'0':'')+m+':'+(s<10?'0':'')+s; if(left===0){{location.reload();return;}} left--; }}
  tick(); setInterval(tick,1000);
  if(left>=0){{ setInterval(function(){{ fetch({_js_string(status_url)}).then(function(r){{return r.json();}})
    .then(function(p){{ if(p.status!=='pending'){{location.reload();}} }}).catch(function(){{}}); }}, 3000); }}
}})();
</script>"""
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{_e(settings.bank_name_zh)}收银台 · {_e(settings.bank_name_en)} Checkout</title>
<style nonce="{_e(nonce)}">{_CSS}</style>
</head>
<body>
<header>
  <div class="brand"><div class="logo">{_e(settings.bank_name_zh[:1])}</div>
    <div>{_e(settings.bank_name_zh)} · 收银台<small>{_e(settings.bank_name_en)} Secure Checkout</small></div></div>
  <div class="secure"><svg class="lock" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true"><path fill="currentColor" d="M4 7V5a4 4 0 1 1 8 0v2h1v8H3V7zm2 0h4V5a2 2 0 1 0-4 0z"/></svg> {_bi("安全支付", "Secure payment")}</div>
</header>
<div class="test">{_bi("测试环境：不会产生真实扣款", "SANDBOX: no real money moves")}</div>
<main>
{summary}
{body}
</main>
<footer>{_amount_rules_hint(settings)}{_e(settings.bank_name_zh)} 版权所有 · {_e(settings.bank_name_en)} payment sandbox<br>
{_bi("请勿在本页输入真实银行卡信息", "Never enter a real card number on this page")}</footer>
{script}
</body>
</html>"""


def _amount_rules_hint(settings: SandboxSettings) -> str:
    if not settings.amount_rules:
        return ""
    zh = "测试金额：分位为 .51 拒绝 · .52 余额不足 · .53 超限 · .54 超时"
    en = "Test amounts ending .51 decline · .52 insufficient funds · .53 over limit · .54 time out"
    return f"{_bi(zh, en)}<br>"


def _js_string(value: str) -> str:
    return json.dumps(value).replace("<", "\\u003c")


def _buttons(approve_zh: str, approve_en: str) -> str:
    return f"""<div class="buttons">
      <button class="primary" type="submit" name="action" value="approve">{_bi(approve_zh, approve_en)}</button>
      <button class="secondary" type="submit" name="action" value="decline" formaction="decline" formnovalidate>{_bi("取消支付", "Cancel")}</button>
    </div>"""


def _method_form(
    payment: PaymentRow, settings: SandboxSettings, qr_png_url: str, error: tuple[str, str] | None
) -> str:
    err = f'<div class="error" role="alert">{_bi(*error)}</div>' if error else ""
    pid = _e(payment.id)
    if payment.method == "card":
        inner = f"""{err}
  <form method="post" action="/pay/{pid}/card" autocomplete="off">
    <label for="card_number">{_bi("卡号", "Card number")}</label>
    <input id="card_number" name="card_number" inputmode="numeric" placeholder="4242 4242 4242 4242" required>
    <div class="row">
      <div><label for="expiry">{_bi("有效期", "Expiry")} (MM/YY)</label>
        <input id="expiry" name="expiry" placeholder="12/30" required></div>
      <div><label for="cvc">CVN2 / CVC</label><input id="cvc" name="cvc" inputmode="numeric" placeholder="123" required></div>
    </div>
    <label for="holder">{_bi("持卡人姓名", "Cardholder name")}</label>
    <input id="holder" name="holder" placeholder="ZHANG SAN">
    {_buttons("确认支付", "Pay")}
  </form>
  <p class="hint">{_bi("测试卡号", "Test cards")}: 4242 4242 4242 4242 ✓ · 4000 0000 0000 0002 ✗ {
            _bi("拒绝", "declined")
        } ·
  4000 0000 0000 9995 {_bi("余额不足", "insufficient funds")}. {
            _bi(
                "卡号仅保存在收银台，商户只收到令牌。",
                "The card number stays with the bank's checkout; the merchant receives a token only.",
            )
        }</p>"""
        title = _bi("银行卡支付", "Pay by bank card")
    elif payment.method == "ecny_wallet" and payment.wallet_id is not None and payment.wallet_tier is not None:
        inner = f"""{err}
  <form method="post" action="/pay/{pid}/approve">
    <p>{_bi("钱包编号", "Wallet ID")}: <strong>{_e(payment.wallet_id)}</strong><br>
    {_e(_tier_label(payment.wallet_tier, settings))}</p>
    {_buttons("确认支付", "Pay with e-CNY")}
  </form>
  <p class="hint">{_bi("钱包按付款人手机号登记；各等级钱包有单笔、日累计和余额上限。",
                       "The wallet is the one registered to the payer's number; each tier has single, daily and balance limits.")}</p>"""
        title = _bi("数字人民币支付", "Pay with digital RMB")
    elif payment.method == "ecny_wallet":
        options = "".join(
            f'<option value="{tier}"{" selected" if tier == settings.default_wallet_tier else ""}>'
            f"{_e(_tier_label(tier, settings))}</option>"
            for tier in sorted(settings.wallet_limits)
        )
        inner = f"""{err}
  <form method="post" action="/pay/{pid}/approve">
    <label for="wallet_id">{_bi("钱包编号", "Wallet ID")}</label>
    <input id="wallet_id" name="wallet_id" value="0031 8888 6666 0001">
    <label for="wallet_tier">{_bi("钱包等级", "Wallet tier")}</label>
    <select id="wallet_tier" name="wallet_tier">{options}</select>
    {_buttons("确认支付", "Pay with e-CNY")}
  </form>
  <p class="hint">{_bi("各等级钱包有单笔、日累计和余额上限。", "Each wallet tier has single, daily and balance limits.")}</p>"""
        title = _bi("数字人民币支付", "Pay with digital RMB")
    elif payment.method == "qr":
        inner = f"""{err}
  <div class="qr"><img src="{_e(qr_png_url)}" alt="QR"><p>{_bi("请使用手机银行扫码支付", "Scan with your banking app")}</p></div>
  <form method="post" action="/pay/{pid}/approve">{_buttons("模拟扫码并支付", "Simulate scan and pay")}</form>"""
        title = _bi("扫码支付", "QR pay")
    else:
        inner = f"""{err}
  <div class="bankapp"><div class="logo">{_e(settings.bank_name_zh[:1])}</div>
    <div>{_bi("已跳转至手机银行", "Signed in to mobile banking")}<br>
    <span class="muted">{_bi("付款账户", "From account")}: 6222 **** **** 8866</span></div></div>
  <form method="post" action="/pay/{pid}/approve">{_buttons("确认支付", "Confirm payment")}</form>"""
        title = _bi("手机银行支付", "Pay with mobile banking")
    return f'<section class="card"><h2>{title}</h2><div class="body">{inner}</div></section>'


def _tier_label(tier: int, settings: SandboxSettings) -> str:
    limits = settings.wallet_limits[tier]
    if limits.single_fen is None:
        return f"{tier} 类钱包 / Tier {tier} (no limit)"
    return f"{tier} 类钱包 / Tier {tier} (单笔 single ¥{format_cny(limits.single_fen)})"


def _result(payment: PaymentRow) -> str:
    zh, en = STATUS_TEXT.get(payment.status, (payment.status, payment.status))
    icon, cls = {"succeeded": ("✓", "ok"), "failed": ("✕", "bad")}.get(payment.status, ("⏱", "late"))
    reason = ""
    if payment.failure_code:
        rz, ren = FAILURE_TEXT.get(payment.failure_code, (payment.failure_code, payment.failure_code))
        reason = f"<p>{_bi(rz, ren)}</p>"
    card = ""
    if payment.card_last4:
        card = f"<p>{_e((payment.card_brand or '').upper())} •••• {_e(payment.card_last4)}</p>"
    link = ""
    if payment.return_url:
        link = f'<a href="{_e(payment.return_url)}">{_bi("返回商户", "Return to merchant")}</a>'
    return f"""<section class="card"><div class="result">
  <div class="icon {cls}">{icon}</div><h3>{_bi(zh, en)}</h3>{reason}{card}{link}
</div></section>"""
