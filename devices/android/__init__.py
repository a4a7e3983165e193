"""The Android Enterprise bridge: devices whose management channel is Google's Android Management
API (docs/android.md).

- `client`: Google's API client and the only calls this server makes.
- `enterprise`: connecting an organization to Google (signup, enterprise), and disconnecting it.
- `policies`: each persona's AMAPI policy, patched at Google after each revision (a push's part).
- `tokens`: Android enrollment tokens (Google's), with their QR code and link.
- `devices`: devices as Google reports them (enrollment, status reports), and the reconciliation
  with `devices.list`.
- `commands`: the outbox's commands sent to Google (`issueCommand`) and their operations followed.
- `pubsub`: the Pub/Sub push endpoint that brings Google's notifications.
"""
