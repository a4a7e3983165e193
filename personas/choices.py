from django.db import models


class InstallMode(models.TextChoices):
    REQUIRED = "required", "Required (installed for the user)"
    AVAILABLE = "available", "Available (the user may install it)"
    BLOCKED = "blocked", "Blocked"


class Channel(models.TextChoices):
    CLIPBOARD = "clipboard", "Clipboard"
    FILES = "files", "Files"
    CONTACTS = "contacts", "Contacts"
    CALENDAR = "calendar", "Calendar"
    SHARE_SHEET = "share_sheet", "Share sheet"
    NOTIFICATIONS = "notifications", "Notifications"
    SCREEN_CAPTURE = "screen_capture", "Screen capture"
    WIDGETS = "widgets", "Widgets"


class Direction(models.TextChoices):
    WORK_TO_PERSONAL = "work_to_personal", "Work to personal"
    PERSONAL_TO_WORK = "personal_to_work", "Personal to work"


class Decision(models.TextChoices):
    ALLOW = "allow", "Allow"
    DENY = "deny", "Deny"


class PasscodeComplexity(models.TextChoices):
    NONE = "none", "Any"
    LOW = "low", "Low (a PIN or pattern)"
    MEDIUM = "medium", "Medium (no repeating or ordered digits, 4+ characters)"
    HIGH = "high", "High (6+ characters, mixed, or alphanumeric 6+)"


CIPHERS = ["AES-256-GCM"]
PLATFORMS = ["android", "ios", "windows", "macos", "linux"]
