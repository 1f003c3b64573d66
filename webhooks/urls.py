from django.urls import path

from . import views

urlpatterns = [
    path("incoming/", views.incoming, name="twilio-incoming"),
    path("status/", views.status, name="twilio-status"),
    path("menu/", views.menu, name="twilio-menu"),
    path("wait/", views.wait, name="twilio-wait"),
    path("queue-choice/", views.queue_choice, name="twilio-queue-choice"),
    path("enqueue-action/", views.enqueue_action, name="twilio-enqueue-action"),
    path("transfer/", views.transfer, name="twilio-transfer"),
    path("voicemail-done/", views.voicemail_done, name="twilio-voicemail-done"),
    path("recording/", views.recording, name="twilio-recording"),
    path("conference/", views.conference, name="twilio-conference"),
    path("join/", views.join, name="twilio-join"),
]
