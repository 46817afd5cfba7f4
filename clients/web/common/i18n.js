// Chinese and English strings, a language toggle and a large-type toggle shared by every page.
// Elements carry data-i18n="key" (text), data-i18n-aria="key" (aria-label) or data-i18n-ph (placeholder).

const STRINGS = {
  zh: {
    "app.title": "银行财富展厅",
    "app.bank": "财富展厅",
    "lang.toggle": "English",
    "large.on": "大字模式",
    "large.off": "标准字号",
    "large.short.on": "大字",
    "large.short.off": "标准",
    "lang.short": "EN",
    "common.back": "返回",
    "common.close": "关闭",
    "common.retry": "重试",
    "common.loading": "加载中…",
    "common.error": "出错了：{msg}",
    "common.home": "首页",
    "attract.title": "触摸屏幕，开始探索",
    "attract.sub": "贵金属 · 汽车金融 · 360° 全景 · 虚拟试戴",
    "hall.metals": "贵金属",
    "hall.cars": "汽车",
    "wall.title": "请选择展厅",
    "product.spin_hint": "拖动旋转 · 双指或滚轮缩放",
    "product.variant": "款式",
    "product.rendering": "正在生成 360° 视图 {done}/{total}",
    "product.price": "实时价格",
    "product.price_from": "参考价",
    "product.quote_locked": "价格锁定中，{s} 秒内有效",
    "product.quote_expired": "报价已过期，请刷新报价",
    "product.lock_price": "锁定价格",
    "product.refresh_price": "刷新报价",
    "product.buy": "立即购买",
    "product.tryon": "虚拟试戴",
    "product.loan": "贷款方案",
    "product.share": "分享",
    "product.ar": "AR 摆放",
    "product.zoom_in": "放大",
    "product.zoom_out": "缩小",
    "product.zoom_reset": "还原",
    "spec.purity": "成色",
    "spec.weight": "重量",
    "spec.hallmark": "印记",
    "spec.certificate": "证书",
    "spec.dimensions": "尺寸",
    "spec.size": "规格",
    "spec.trim": "配置",
    "spec.msrp": "指导价",
    "spec.stock": "库存",
    "spec.none": "—",
    "loan.title": "贷款计算",
    "loan.down": "首付比例",
    "loan.term": "期限",
    "loan.months": "{n} 个月",
    "loan.monthly": "月供",
    "loan.apr": "年化利率（APR）",
    "loan.total_interest": "利息总额",
    "loan.principal": "贷款本金",
    "loan.method": "还款方式",
    "loan.method.equal_installment": "等额本息",
    "loan.method.equal_principal": "等额本金",
    "loan.disclosure": "以上为试算结果，实际利率与额度以银行审批为准。年化利率（APR）已按国家规定披露。",
    "loan.reserve": "支付定金预约",
    "tryon.title": "镜前试戴",
    "tryon.consent_title": "使用摄像头前请确认",
    "tryon.consent_body": "试戴需要使用摄像头拍摄您的影像。影像只在本次试戴中实时处理，不会保存、不会上传至其他系统；离开或超时后立即清除。",
    "tryon.agree": "同意并开始",
    "tryon.decline": "不同意",
    "tryon.working": "正在生成试戴效果…",
    "tryon.stop": "结束试戴",
    "tryon.capture": "拍一张",
    "tryon.no_camera": "无法打开摄像头：{msg}",
    "tryon.no_anchor": "此商品不支持试戴",
    "ar.title": "AR 摆放",
    "ar.hint": "将摄像头对准桌面，点击画面放置商品",
    "ar.placed": "已放置，可再次点击移动",
    "ar.on_marker": "已识别展示垫，商品按真实尺寸摆放；也可点击桌面放置",
    "camera.connecting": "正在连接…",
    "camera.reconnecting": "连接中断，正在重新连接…",
    "camera.busy": "服务繁忙，稍后自动重试…",
    "camera.refused": "无法继续：{msg}",
    "camera.consent_required": "需要您的同意才能使用摄像头试戴",
    "camera.unknown_product": "此商品暂不可用",
    "camera.status.ok": "实时试戴中",
    "camera.status.no_face": "请正对摄像头，让面部完整入镜",
    "camera.status.no_hand": "请将手放入画面中",
    "camera.status.no_anchor": "请露出颈部或耳部",
    "camera.status.out_of_view": "商品超出画面，请稍微后退",
    "tryon.photo_no_fit": "照片中没有找到佩戴位置，请调整姿势后再拍一张",
    "checkout.title": "扫码支付",
    "checkout.pay_here": "在本机完成支付",
    "checkout.done": "购买成功",
    "checkout.certificate": "查看证书（可验证）",
    "checkout.scan": "请使用手机扫描二维码完成支付",
    "checkout.open_pay": "在本机打开支付页",
    "checkout.method": "支付方式",
    "checkout.method.qr": "扫码支付",
    "checkout.method.card": "银行卡",
    "checkout.method.mobile_banking": "手机银行",
    "checkout.method.ecny_wallet": "数字人民币",
    "checkout.total": "应付金额",
    "checkout.total_paid": "实付金额",
    "checkout.order": "订单号",
    "checkout.quote_valid": "报价有效期剩余 {s} 秒",
    "checkout.name": "姓名",
    "checkout.phone": "手机号",
    "checkout.confirm": "确认下单",
    "checkout.new": "继续选购",
    "checkout.phone_title": "请输入手机号码",
    "checkout.phone_why": "用于接收订单凭证和支付通知；离开后本机立即清除。",
    "checkout.phone_invalid": "请输入 11 位手机号码",
    "checkout.clear": "清除",
    "checkout.cancel": "取消订单",
    "checkout.deposit": "预约定金",
    "status.pending_payment": "等待支付",
    "status.paid": "支付成功",
    "status.expired": "订单已过期",
    "status.cancelled": "订单已取消",
    "status.payment_failed": "支付失败",
    "status.partially_refunded": "部分退款",
    "status.refunded": "已退款",
    "status.fulfilling": "备货中",
    "status.completed": "已完成",
    "status.paid_thanks": "感谢您的购买！请记下订单号，以便查询和售后。",
    "status.under_review": "订单正在进行常规审核，完成后即可办理后续手续；如有需要，银行工作人员会与您联系。",
    "share.title": "分享",
    "share.poster": "下载海报",
    "share.native": "分享给朋友",
    "share.copied": "链接已复制",
    "share.quoted_at": "报价时间 {t}",
    "share.buy": "购买",
    "share.invalid": "分享链接无效或已过期",
    "idle.warning": "长时间无操作，{s} 秒后将清除本次会话",
    "idle.stay": "继续浏览",
    "guide.name": "数字导览员",
    "guide.title": "您好，我是数字导览员",
    "guide.ask_ph": "请输入您的问题",
    "guide.ask": "提问",
    "guide.thinking": "正在为您查询…",
    "guide.you_asked": "您问：{q}",
    "guide.mute": "静音",
    "guide.unmute": "打开声音",
    "guide.off": "关闭导览员",
    "guide.hide": "隐藏",
    "guide.on": "数字导览员",
    "guide.close": "关闭",
    "guide.open": "问导览员",
    "guide.advisor": "呼叫顾问",
    "guide.greeting": "您好，欢迎光临！我是数字导览员。金价、商品、贷款和提货，都可以问我。",
    "guide.hint": "需要帮忙吗？点下面的问题，或输入您想问的，我来为您解答。",
    "guide.intro": "金价、商品、贷款和提货，都可以问我。",
    "guide.suggest.price": "这件多少钱？",
    "guide.suggest.gold": "今天金价多少？",
    "guide.suggest.pickup": "怎么提货？",
    "guide.unavailable": "导览员暂时无法回答，请稍后再试，或呼叫顾问。",
    "guide.tap_to_hear": "轻触屏幕即可听到语音",
    "guide.branch_q": "网点电话是多少",
    "vr.enter": "进入 VR",
    "vr.no_xr": "未检测到 VR 设备，已切换为网页预览：拖动画面环顾四周",
    "vr.latency": "延迟 {ms} 毫秒",
    "vr.fps": "{fps} 帧/秒",
    "vr.connecting": "正在连接渲染节点…",
    "vr.disconnected": "连接已断开，正在重连…",
    "vr.pay_on_phone": "手机扫码支付",
    "vr.product": "商品",
    "hall.branch": "华锦银行 · 线上营业厅",
    "hall.welcome": "欢迎光临",
    "hall.intro": "拖动画面环顾四周，点击地面即可走过去，点击柜台里的商品，它会被请到展示台上放大给您看。下方按钮直达各区域。",
    "hall.keys": "键盘：1–5 前往各区域 · Q/E 转身 30° · 方向键环顾 · [ ] 旋转商品 · P 询价 · B 购买 · A 呼叫顾问 · V 语音 · Esc 放回",
    "hall.xr_intro": "扳机：选择或走过去 · 摇杆前推：瞄准传送 · 摇杆左右：转身",
    "hall.zone.gold_counter": "贵金属柜台",
    "hall.zone.car_studio": "汽车金融",
    "hall.zone.wealth_corner": "财富资讯",
    "hall.zone.service_counter": "客户服务",
    "hall.zone.entrance": "入口",
    "hall.turn_left": "向左转 30 度",
    "hall.turn_right": "向右转 30 度",
    "hall.rotate_left": "向左旋转",
    "hall.rotate_right": "向右旋转",
    "hall.sit": "坐进车内",
    "hall.stand_up": "下车",
    "hall.seated": "您已坐在驾驶座上，可以环顾车内",
    "hall.back": "放回",
    "hall.advisor": "呼叫顾问",
    "hall.advisor_coming": "顾问马上就到，请在客户服务柜台稍候",
    "hall.appointment_note": "请在客户服务柜台预约，工作人员会为您安排时间",
    "hall.mic": "语音",
    "hall.listening": "请用英语说出指令…（例如 “go to the gold counter”“show the 100 gram bar”；离线识别暂不支持普通话）",
    "hall.heard": "听到：{text}",
    "hall.not_understood": "没听清，请再说一遍，或使用按钮",
    "hall.voice_unavailable": "语音暂不可用：{msg}",
    "hall.not_walkable": "那里不能走过去",
    "hall.choose_first": "请先选择一件商品",
    "hall.magnified": "在展示台上放大 {x} 倍，旁边是实物大小和 10 厘米标尺",
    "hall.walk_around": "全尺寸展示，可绕车一周或坐进车内",
    "hall.delay": "模拟链路延迟 {ms} 毫秒",
    "hall.reproject_off": "重投影已关闭（对比演示）",
    "hall.reproject_hz": "重投影 {hz} 帧/秒",
    "hall.walk": "漫步展厅",
    "hall.walk_sub": "走进线上营业厅：贵金属柜台、汽车金融、财富资讯",
    "hall.details": "详情与购买",
    "hall.featured": "精选商品",
    "hall.unavailable": "展厅暂不可用",
    "hallguide.bar": "导览员带路",
    "hallguide.take_gold": "带我去贵金属柜台",
    "hallguide.take_cars": "带我去汽车金融展厅",
    "hallguide.take_service": "带我去服务柜台",
    "hallguide.greeting": "您好，欢迎光临华锦银行！我是数字导览员。想去哪里，点一下左边的按钮，我陪您过去。",
    "hallguide.lead.gold_counter": "请跟我来，贵金属柜台在这边。",
    "hallguide.lead.car_studio": "请跟我来，我们去汽车金融展厅。",
    "hallguide.lead.service_counter": "请跟我来，服务柜台在里面。",
    "hallguide.here.gold_counter": "这里就是贵金属柜台：金条、金币和首饰都在展柜里，点一下就能放大细看。",
    "hallguide.here.car_studio": "这里是汽车金融展厅：可以绕车走一圈，也可以坐进车里看看。",
    "hallguide.here.service_counter": "这里是服务柜台：可以预约办理，也可以呼叫理财顾问。",
    "hallguide.unavailable": "导览员暂时走不开，请用下方按钮前往。",
    "phone.tab.spin": "360°",
    "phone.tab.ar": "AR",
    "phone.tab.tryon": "试戴",
    "phone.tab.buy": "购买",
    "phone.choose": "选择商品",
    "kind.gold_bar": "金条",
    "kind.coin": "纪念币",
    "kind.ring": "戒指",
    "kind.bangle": "手镯",
    "kind.bracelet": "手链",
    "kind.necklace": "项链",
    "kind.earrings": "耳饰",
    "kind.car": "汽车",
  },
  en: {
    "app.title": "Bank Wealth Showroom",
    "app.bank": "Wealth Showroom",
    "lang.toggle": "中文",
    "large.on": "Large text",
    "large.off": "Normal text",
    "large.short.on": "A+",
    "large.short.off": "A",
    "lang.short": "中",
    "common.back": "Back",
    "common.close": "Close",
    "common.retry": "Retry",
    "common.loading": "Loading…",
    "common.error": "Something went wrong: {msg}",
    "common.home": "Home",
    "attract.title": "Touch the screen to explore",
    "attract.sub": "Precious metals · Car finance · 360° views · Virtual try-on",
    "hall.metals": "Precious metals",
    "hall.cars": "Cars",
    "wall.title": "Choose a hall",
    "product.spin_hint": "Drag to turn · pinch or scroll to zoom",
    "product.variant": "Option",
    "product.rendering": "Preparing the 360° view {done}/{total}",
    "product.price": "Live price",
    "product.price_from": "Guide price",
    "product.quote_locked": "Price locked, valid for {s} s",
    "product.quote_expired": "This quote has expired; please refresh the price",
    "product.lock_price": "Lock price",
    "product.refresh_price": "Refresh price",
    "product.buy": "Buy now",
    "product.tryon": "Try on",
    "product.loan": "Loan plans",
    "product.share": "Share",
    "product.ar": "Place in AR",
    "product.zoom_in": "Zoom in",
    "product.zoom_out": "Zoom out",
    "product.zoom_reset": "Reset",
    "spec.purity": "Purity",
    "spec.weight": "Weight",
    "spec.hallmark": "Hallmark",
    "spec.certificate": "Certificate",
    "spec.dimensions": "Dimensions",
    "spec.size": "Size",
    "spec.trim": "Trim",
    "spec.msrp": "List price",
    "spec.stock": "In stock",
    "spec.none": "—",
    "loan.title": "Loan calculator",
    "loan.down": "Down payment",
    "loan.term": "Term",
    "loan.months": "{n} months",
    "loan.monthly": "Monthly payment",
    "loan.apr": "Annual percentage rate (APR)",
    "loan.total_interest": "Total interest",
    "loan.principal": "Loan amount",
    "loan.method": "Repayment",
    "loan.method.equal_installment": "equal instalments",
    "loan.method.equal_principal": "equal principal",
    "loan.disclosure": "Illustration only; the final rate and amount are subject to the bank's approval. The APR is disclosed as required by regulation.",
    "loan.reserve": "Reserve with a deposit",
    "tryon.title": "Mirror try-on",
    "tryon.consent_title": "Before we use the camera",
    "tryon.consent_body": "Try-on uses the camera to show the piece on you. Your image is processed live for this try-on only; it is never stored or sent to other systems, and it is wiped when you leave or the session times out.",
    "tryon.agree": "I agree, start",
    "tryon.decline": "No, thanks",
    "tryon.working": "Preparing your try-on…",
    "tryon.stop": "End try-on",
    "tryon.capture": "Take a photo",
    "tryon.no_camera": "The camera could not start: {msg}",
    "tryon.no_anchor": "This product cannot be tried on",
    "ar.title": "Place in AR",
    "ar.hint": "Point the camera at a table and tap to place the product",
    "ar.placed": "Placed. Tap again to move it",
    "ar.on_marker": "Marker mat found: the product stands at its real size. Or tap the table to place it",
    "camera.connecting": "Connecting…",
    "camera.reconnecting": "Connection lost, reconnecting…",
    "camera.busy": "The service is busy; retrying shortly…",
    "camera.refused": "Cannot continue: {msg}",
    "camera.consent_required": "Try-on needs your consent to use the camera",
    "camera.unknown_product": "This product is not available",
    "camera.status.ok": "Live try-on",
    "camera.status.no_face": "Face the camera so your whole face is in view",
    "camera.status.no_hand": "Hold your hand in view",
    "camera.status.no_anchor": "Show your neck or ears to the camera",
    "camera.status.out_of_view": "The piece is outside the picture: step back a little",
    "tryon.photo_no_fit": "No place to wear it was found in the photo: adjust and take another",
    "checkout.title": "Pay by QR code",
    "checkout.pay_here": "Pay on this phone",
    "checkout.done": "Purchase complete",
    "checkout.certificate": "View the certificate (verifiable)",
    "checkout.scan": "Scan the QR code with your phone to pay",
    "checkout.open_pay": "Open the pay page here",
    "checkout.method": "Payment method",
    "checkout.method.qr": "QR pay",
    "checkout.method.card": "Bank card",
    "checkout.method.mobile_banking": "Mobile banking",
    "checkout.method.ecny_wallet": "e-CNY wallet",
    "checkout.total": "Amount due",
    "checkout.total_paid": "Amount paid",
    "checkout.order": "Order",
    "checkout.quote_valid": "Quote valid for {s} s",
    "checkout.name": "Name",
    "checkout.phone": "Mobile number",
    "checkout.confirm": "Place order",
    "checkout.new": "Keep shopping",
    "checkout.phone_title": "Your mobile number",
    "checkout.phone_why": "For your receipt and payment notices; wiped from this screen when you leave.",
    "checkout.phone_invalid": "Please enter an 11-digit mobile number",
    "checkout.clear": "Clear",
    "checkout.cancel": "Cancel order",
    "checkout.deposit": "Reservation deposit",
    "status.pending_payment": "Waiting for payment",
    "status.paid": "Paid",
    "status.expired": "Order expired",
    "status.cancelled": "Order cancelled",
    "status.payment_failed": "Payment failed",
    "status.partially_refunded": "Partially refunded",
    "status.refunded": "Refunded",
    "status.fulfilling": "Being prepared",
    "status.completed": "Completed",
    "status.paid_thanks": "Thank you for your purchase! Please note the order number for enquiries.",
    "status.under_review": "Your order is going through a routine check; the next steps follow once it is done, and the bank will contact you if needed.",
    "share.title": "Share",
    "share.poster": "Download poster",
    "share.native": "Share with a friend",
    "share.copied": "Link copied",
    "share.quoted_at": "Quoted at {t}",
    "share.buy": "Buy",
    "share.invalid": "This share link is invalid or has expired",
    "idle.warning": "No activity: this session will be cleared in {s} s",
    "idle.stay": "Keep browsing",
    "guide.name": "Digital guide",
    "guide.title": "Hello, I'm your digital guide",
    "guide.ask_ph": "Type your question",
    "guide.ask": "Ask",
    "guide.thinking": "Looking that up…",
    "guide.you_asked": "You asked: {q}",
    "guide.mute": "Mute",
    "guide.unmute": "Sound on",
    "guide.off": "Turn the guide off",
    "guide.hide": "Hide",
    "guide.on": "Digital guide",
    "guide.close": "Close",
    "guide.open": "Ask the guide",
    "guide.advisor": "Call an advisor",
    "guide.greeting": "Welcome to the bank's showroom! I'm your digital guide: ask me about gold prices, products, loans or pick-up.",
    "guide.hint": "Can I help? Tap a question below or type your own, and I'll answer it.",
    "guide.intro": "Ask me about gold prices, products, loans or pick-up.",
    "guide.suggest.price": "How much is this one?",
    "guide.suggest.gold": "What is the gold price today?",
    "guide.suggest.pickup": "How do I pick it up?",
    "guide.unavailable": "The guide can't answer right now: please try again shortly, or call an advisor.",
    "guide.tap_to_hear": "Touch the screen to hear the guide",
    "guide.branch_q": "what is the branch phone number",
    "vr.enter": "Enter VR",
    "vr.no_xr": "No VR headset found: showing the web preview. Drag to look around",
    "vr.latency": "Latency {ms} ms",
    "vr.fps": "{fps} fps",
    "vr.connecting": "Connecting to the render node…",
    "vr.disconnected": "Connection lost, reconnecting…",
    "vr.pay_on_phone": "Scan to pay on your phone",
    "vr.product": "Product",
    "hall.branch": "Huajin Bank · online branch",
    "hall.welcome": "Welcome to the branch",
    "hall.intro": "Drag to look around, click the floor to walk there, and click a product on the counter: it is brought to the presentation stand and shown large. The buttons below take you to each area.",
    "hall.keys": "Keys: 1–5 go to an area · Q/E turn 30° · arrows look · [ ] turn the item · P price · B buy · A call an advisor · V voice · Esc put it back",
    "hall.xr_intro": "Trigger: choose or walk · stick forward: aim a teleport · stick left/right: turn",
    "hall.zone.gold_counter": "Precious metals",
    "hall.zone.car_studio": "Car finance",
    "hall.zone.wealth_corner": "Wealth corner",
    "hall.zone.service_counter": "Customer service",
    "hall.zone.entrance": "Entrance",
    "hall.turn_left": "Turn left 30 degrees",
    "hall.turn_right": "Turn right 30 degrees",
    "hall.rotate_left": "Turn it left",
    "hall.rotate_right": "Turn it right",
    "hall.sit": "Sit in",
    "hall.stand_up": "Stand up",
    "hall.seated": "You are in the driver's seat: look around the cabin",
    "hall.back": "Put it back",
    "hall.advisor": "Call an advisor",
    "hall.advisor_coming": "An advisor will join you: please wait at the customer service counter",
    "hall.appointment_note": "Book an appointment at the customer service counter; the staff will find you a time",
    "hall.mic": "Voice",
    "hall.listening": "Listening… (say \"go to the gold counter\" or \"show the 100 gram bar\")",
    "hall.heard": "Heard: {text}",
    "hall.not_understood": "Sorry, I did not catch that: please say it again or use the buttons",
    "hall.voice_unavailable": "Voice is not available: {msg}",
    "hall.not_walkable": "You cannot walk there",
    "hall.choose_first": "Please choose a product first",
    "hall.magnified": "Shown {x}× on the stand, with the true size and a 10 cm ruler beside it",
    "hall.walk_around": "Full size: walk around it or sit in",
    "hall.delay": "Simulated link latency {ms} ms",
    "hall.reproject_off": "Reprojection off (comparison)",
    "hall.reproject_hz": "reprojected {hz} fps",
    "hall.walk": "Walk the hall",
    "hall.walk_sub": "Step into the online branch: precious metals, car finance, wealth corner",
    "hall.details": "Details and buy",
    "hall.featured": "Featured",
    "hall.unavailable": "The hall is not available right now",
    "hallguide.bar": "The guide takes you there",
    "hallguide.take_gold": "Take me to the gold counter",
    "hallguide.take_cars": "Take me to the car studio",
    "hallguide.take_service": "Take me to the service counter",
    "hallguide.greeting": "Hello and welcome to Huajin Bank! I'm your digital guide. Tap a button on the left and I'll walk you there.",
    "hallguide.lead.gold_counter": "Please follow me: the precious-metals counter is this way.",
    "hallguide.lead.car_studio": "Please follow me to the car-finance studio.",
    "hallguide.lead.service_counter": "Please follow me to the service counter.",
    "hallguide.here.gold_counter": "Here is the precious-metals counter: bars, coins and jewellery are in the showcases. Tap one to see it up close.",
    "hallguide.here.car_studio": "This is the car-finance studio: walk around the cars, or sit in one.",
    "hallguide.here.service_counter": "This is the service counter: book an appointment here, or call an advisor.",
    "hallguide.unavailable": "The guide can't walk you there right now: use the buttons below.",
    "phone.tab.spin": "360°",
    "phone.tab.ar": "AR",
    "phone.tab.tryon": "Try on",
    "phone.tab.buy": "Buy",
    "phone.choose": "Choose a product",
    "kind.gold_bar": "Gold bar",
    "kind.coin": "Coin",
    "kind.ring": "Ring",
    "kind.bangle": "Bangle",
    "kind.bracelet": "Bracelet",
    "kind.necklace": "Necklace",
    "kind.earrings": "Earrings",
    "kind.car": "Car",
  },
};

const listeners = new Set();
let lang = pickInitialLang();

function pickInitialLang() {
  const q = new URLSearchParams(location.search).get("lang");
  if (q === "zh" || q === "en") return q;
  try {
    const saved = localStorage.getItem("showroom.lang");
    if (saved === "zh" || saved === "en") return saved;
  } catch (_) {
    /* storage may be disabled in kiosk mode */
  }
  // branch screens start in Chinese; personal devices follow the browser's language
  const fixed = document.documentElement.dataset.defaultLang;
  if (fixed === "zh" || fixed === "en") return fixed;
  return (navigator.language || "zh").toLowerCase().startsWith("zh") ? "zh" : "en";
}

export function getLang() {
  return lang;
}

/** The string for `key` in the current language with {name} placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const s = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] !== undefined ? String(vars[k]) : `{${k}}`));
}

/** Picks the current language from a {"zh", "en"} object (or returns a plain string). */
export function pick(text) {
  if (text === null || text === undefined) return "";
  if (typeof text === "string") return text;
  return text[lang] ?? text.en ?? text.zh ?? "";
}

export function applyI18n(root = document) {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
  for (const el of root.querySelectorAll("[data-i18n-ph]")) el.setAttribute("placeholder", t(el.dataset.i18nPh));
}

export function setLang(next) {
  lang = next === "en" ? "en" : "zh";
  try {
    localStorage.setItem("showroom.lang", lang);
  } catch (_) {
    /* ignore */
  }
  applyI18n();
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function isLargeType() {
  return document.documentElement.classList.contains("large-type");
}

export function setLargeType(on) {
  document.documentElement.classList.toggle("large-type", !!on);
  try {
    localStorage.setItem("showroom.large", on ? "1" : "0");
  } catch (_) {
    /* ignore */
  }
  for (const fn of listeners) fn(lang);
}

/** Wires the language and large-type buttons found in the page (data-action="lang" / "large"). */
export function installToggles(root = document) {
  try {
    if (localStorage.getItem("showroom.large") === "1") document.documentElement.classList.add("large-type");
  } catch (_) {
    /* ignore */
  }
  for (const b of root.querySelectorAll('[data-action="lang"]')) {
    b.addEventListener("click", () => setLang(lang === "zh" ? "en" : "zh"));
  }
  for (const b of root.querySelectorAll('[data-action="large"]')) {
    const paint = () => {
      const short = b.dataset.compact !== undefined ? "short." : "";
      b.textContent = t(isLargeType() ? `large.${short}off` : `large.${short}on`);
      b.setAttribute("aria-label", t(isLargeType() ? "large.off" : "large.on"));
      b.setAttribute("aria-pressed", String(isLargeType()));
    };
    b.addEventListener("click", () => {
      setLargeType(!isLargeType());
      paint();
    });
    onLangChange(paint);
    paint();
  }
  for (const b of root.querySelectorAll('[data-action="lang"]')) {
    const paint = () => {
      b.textContent = t(b.dataset.compact !== undefined ? "lang.short" : "lang.toggle");
      b.setAttribute("aria-label", t("lang.toggle"));
    };
    onLangChange(paint);
    paint();
  }
  applyI18n(root);
}
